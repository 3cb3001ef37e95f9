from django.urls import path

from bench.baselines.typical import views

urlpatterns = [path("", views.index)]

from django.contrib import admin
from django.urls import path

from visits import views

urlpatterns = [
    path("", views.index, name="index"),
    path("stats", views.stats, name="stats"),
    path("stats.json", views.stats_json, name="stats-json"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("admin/", admin.site.urls),
]

# Errors answer in the format and language the client asked for, as the page does.
handler400 = "visits.views.bad_request"
handler404 = "visits.views.page_not_found"

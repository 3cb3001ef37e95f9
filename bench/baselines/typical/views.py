from django.core.cache import cache
from django.http import HttpResponse

from bench.baselines.typical.models import Access

# cache.incr refuses a key that does not exist: the benchmark sets it to 0 first.
COUNTER_KEY = "typical-visits"


def index(request):
    Access.objects.create()
    accesses = Access.objects.count()
    visits = cache.incr(COUNTER_KEY)
    return HttpResponse(f"Banco PostgreSQL tem {accesses} registros. Redis conta {visits} visitas.")

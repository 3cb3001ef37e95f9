import logging
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.formats import date_format
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from django.views.decorators.vary import vary_on_headers

from visits import access_queries, drift, health, responses, wording
from visits.charts import bar_chart
from visits.counting import count_page_view, current_counts
from visits.request_details import client_address, user_agent
from visits.traffic import recent_traffic

logger = logging.getLogger(__name__)


# Exempt from CSRF so that a POST gets its honest 405 rather than a 403; the
# view changes nothing on any method but GET.
@csrf_exempt
@require_safe
@never_cache
@vary_on_headers("Accept")
def index(request: HttpRequest) -> HttpResponse:
    """Count this page view (GET only; HEAD just reads) and answer with both numbers."""
    media_type = responses.media_type_for(request)
    if media_type is None:
        return responses.error_response(
            request, wording.not_acceptable(), HTTPStatus.NOT_ACCEPTABLE
        )
    if request.method == "HEAD":
        counts = current_counts()
    else:
        counts = count_page_view(
            client_address=client_address(request), user_agent=user_agent(request)
        )
    return responses.counts_response(request, counts, media_type)


@require_safe
@never_cache
def stats(request: HttpRequest) -> HttpResponse:
    """Page views per hour over the last day and per day over the last month, as charts."""
    traffic = recent_traffic()
    hourly = [(date_format(hour, "H:i"), count) for hour, count in traffic.hourly]
    daily = [(date_format(day, "j M"), count) for day, count in traffic.daily]
    return render(
        request,
        "visits/stats.html",
        {
            "hourly": bar_chart(hourly, label_every=3),
            "daily": bar_chart(daily, label_every=5),
            "total": access_queries.access_count(),
        },
    )


@require_safe
@never_cache
def stats_json(request: HttpRequest) -> JsonResponse:
    """The stats page's numbers, for scripts."""
    traffic = recent_traffic()
    return JsonResponse(
        {
            "accesses": access_queries.access_count(),
            "time_zone": timezone.get_current_timezone_name(),
            "hourly": [
                {"hour": hour.isoformat(), "accesses": count} for hour, count in traffic.hourly
            ],
            "daily": [{"date": day.isoformat(), "accesses": count} for day, count in traffic.daily],
        }
    )


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 404, in the client's format and language (handler404)."""
    return responses.error_response(request, wording.page_not_found(), HTTPStatus.NOT_FOUND)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 400 (a Host not allowed, say), in the client's format and language (handler400)."""
    return responses.error_response(request, wording.bad_request(), HTTPStatus.BAD_REQUEST)


def login_locked_out(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """django-axes' answer to a client locked out of the admin login (AXES_LOCKOUT_CALLABLE)."""
    cool_off = settings.AXES_COOLOFF_TIME
    response = responses.error_response(
        request,
        wording.login_locked_out(int(cool_off.total_seconds() // 60)),
        HTTPStatus.TOO_MANY_REQUESTS,
    )
    response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response


@require_safe
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers; no dependency is touched."""
    return JsonResponse({"status": "alive"})


@require_safe
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """
    Readiness: the page can be served, so send traffic here. That needs
    PostgreSQL; a Redis outage leaves it "degraded" but ready, since the page
    then still stores each access and says the visit was not counted: taking
    every replica out of traffic for it would turn a degraded site into none.
    It also says how far the visit counter is behind, which never makes it fail.
    """
    database = health.database_state()
    cache = health.cache_state()
    for state in (database, cache):
        if not state.up:
            logger.warning("%s does not answer (%s).", state.product, state.problem)
    ready = database.up and cache.up
    counter = drift.measure() if ready else None
    status = "ready" if ready else "degraded" if database.up else "unavailable"
    return JsonResponse(
        {
            "status": status,
            "database": database.as_dict(),
            "cache": cache.as_dict(),
            "counter": counter.as_dict() if counter else None,
        },
        status=HTTPStatus.OK if database.up else HTTPStatus.SERVICE_UNAVAILABLE,
    )

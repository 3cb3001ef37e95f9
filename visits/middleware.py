import logging
from collections.abc import Callable
from http import HTTPStatus

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from psycopg import errors as postgresql_errors

from visits import metrics, responses, wording
from visits.request_details import comes_from

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5


# What PostgreSQL says when DB_STATEMENT_TIMEOUT or DB_LOCK_TIMEOUT fires.
_TIMEOUTS = (postgresql_errors.QueryCanceled, postgresql_errors.LockNotAvailable)


class DatabaseUnavailableMiddleware:
    """
    Answer 503 with one sentence, not a 500 and a stack trace, while the
    database cannot be reached or gives up on a query that took too long.
    Django drops a broken connection at the end of the request and the next
    request connects afresh, so service resumes by itself when the database
    returns.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        logger.warning("Answered 503 to %s %s: %s", request.method, request.path, exception)
        if isinstance(exception.__cause__, _TIMEOUTS):
            message = wording.database_too_slow(connection.display_name)
        else:
            message = wording.database_unavailable(connection.display_name)
        metrics.DATABASE_UNAVAILABLE.inc()
        response = responses.error_response(request, message, HTTPStatus.SERVICE_UNAVAILABLE)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response


class AdminNetworkMiddleware:
    """
    Outside DJANGO_ADMIN_ALLOWED_NETWORKS (when set), the admin does not exist:
    404, so that nobody elsewhere can even try a password.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        networks = settings.ADMIN_ALLOWED_NETWORKS
        # Without networks to keep to, nothing to look up: reverse() alone cost
        # every page view about 5 % of its CPU (docs/benchmark.md).
        if (
            networks
            and request.path.startswith(reverse("admin:index"))
            and not comes_from(request, networks)
        ):
            raise Http404
        return self.get_response(request)

import logging
from http import HTTPStatus
from ipaddress import ip_address

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from psycopg import errors as postgresql_errors

from visits import responses, wording
from visits.request_details import client_address

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

    def __init__(self, get_response):
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
        response = responses.error_response(request, message, HTTPStatus.SERVICE_UNAVAILABLE)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response


class AdminNetworkMiddleware:
    """
    Outside DJANGO_ADMIN_ALLOWED_NETWORKS (when set), the admin does not exist:
    404, so that nobody elsewhere can even try a password.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        networks = settings.ADMIN_ALLOWED_NETWORKS
        if networks and request.path.startswith(reverse("admin:index")):
            address = client_address(request)
            if address is None or not any(ip_address(address) in net for net in networks):
                raise Http404
        return self.get_response(request)

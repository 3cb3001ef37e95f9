import logging
from http import HTTPStatus

from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse

from visits import responses, wording

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5


class DatabaseUnavailableMiddleware:
    """
    Answer 503 with one sentence, not a 500 and a stack trace, while the
    database cannot be reached. Django drops the broken connection at the end of
    the request and the next request connects afresh, so service resumes by
    itself when the database returns.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        logger.warning(
            "Database unavailable for %s %s: %s", request.method, request.path, exception
        )
        response = responses.error_response(
            request,
            wording.database_unavailable(connection.display_name),
            HTTPStatus.SERVICE_UNAVAILABLE,
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

"""Content negotiation, and the page's answers in each format."""

from http import HTTPStatus

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from visits import wording
from visits.tally import Tally

PLAIN = "text/plain"
HTML = "text/html"
JSON = "application/json"
# Listed first, plain text is what curl's "Accept: */*" gets, as in the exercise.
OFFERED_TYPES = [PLAIN, HTML, JSON]
HEADINGS = {
    HTTPStatus.NOT_ACCEPTABLE: _("Format not available"),
    HTTPStatus.SERVICE_UNAVAILABLE: _("Temporarily unavailable"),
}


def preferred_type(request: HttpRequest) -> str | None:
    """The offered media type the client prefers; None when it accepts none of them."""
    if not request.headers.get("Accept", "").strip():
        return PLAIN
    return request.get_preferred_type(OFFERED_TYPES)


def tally_response(request: HttpRequest, tally: Tally, media_type: str) -> HttpResponse:
    if media_type == JSON:
        return JsonResponse(
            {
                "accesses": tally.accesses,
                "visits": tally.visits,
                "database": tally.database_engine,
                "cache": tally.cache_engine,
                "message": wording.count_sentence(tally),
            }
        )
    if media_type == HTML:
        return render(
            request,
            "visits/index.html",
            {"tally": tally, "sentence": wording.page_sentence(tally)},
        )
    return _plain(wording.count_sentence(tally))


def error_response(request: HttpRequest, message: str, status: HTTPStatus) -> HttpResponse:
    """A one-sentence error in the format the client asked for (plain text if none fits)."""
    media_type = preferred_type(request)
    if media_type == JSON:
        return JsonResponse({"error": message}, status=status)
    if media_type == HTML:
        return render(
            request,
            "visits/error.html",
            {"message": message, "status": status, "heading": HEADINGS.get(status)},
            status=status,
        )
    return _plain(message, status=status)


def _plain(text: str, status: HTTPStatus = HTTPStatus.OK) -> HttpResponse:
    return HttpResponse(text, content_type="text/plain; charset=utf-8", status=status)

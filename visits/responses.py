"""The page's answers in each format, chosen by content negotiation."""

from http import HTTPStatus

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from visits import negotiation, wording
from visits.counting import Counts

PLAIN = "text/plain"
HTML = "text/html"
JSON = "application/json"
# Listed first, plain text is what curl's "Accept: */*" gets, as in the exercise.
OFFERED_TYPES = [PLAIN, HTML, JSON]
# Each is sent as UTF-8 (JSON always is), so a client asking for that charset gets it.
CHARSET = "; charset=utf-8"
_OFFERS = [media_type + CHARSET for media_type in OFFERED_TYPES]
HEADINGS = {
    HTTPStatus.BAD_REQUEST: _("Bad request"),
    HTTPStatus.NOT_FOUND: _("Page not found"),
    HTTPStatus.NOT_ACCEPTABLE: _("Format not available"),
    HTTPStatus.TOO_MANY_REQUESTS: _("Too many attempts"),
    HTTPStatus.SERVICE_UNAVAILABLE: _("Temporarily unavailable"),
}


def media_type_for(request: HttpRequest) -> str | None:
    """The page's media type to answer REQUEST in, without charset; None if none is acceptable."""
    accept = request.headers.get("Accept", "")
    offer = negotiation.best_offer(accept, _OFFERS)
    return offer.removesuffix(CHARSET) if offer else None


def counts_response(request: HttpRequest, counts: Counts, media_type: str) -> HttpResponse:
    if media_type == JSON:
        return JsonResponse(
            {
                "accesses": counts.accesses,
                "visits": counts.visits,
                "database": counts.database_product,
                "cache": counts.cache_product,
                "message": wording.count_sentence(counts),
            }
        )
    if media_type == HTML:
        return render(
            request,
            "visits/index.html",
            {"counts": counts, "sentence": wording.page_sentence(counts)},
        )
    return _plain(wording.count_sentence(counts))


def error_response(request: HttpRequest, message: str, status: HTTPStatus) -> HttpResponse:
    """A one-sentence error in the format the client asked for (plain text if none fits)."""
    media_type = media_type_for(request)
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

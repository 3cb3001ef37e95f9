"""
Content negotiation by the Accept header, as RFC 9110 (section 12.5.1) has it.

Django's HttpRequest.get_preferred_type() answers None for a range with a
parameter the offer lacks ("application/json; charset=utf-8" against
"application/json"), and skips a range rated q=0 rather than letting it refuse
the type it names ("text/plain;q=0, */*" would still give text/plain). Here each
offered type is rated by the most specific range that matches it.
"""

from django.http.request import MediaType


def best_offer(accept: str, offered: list[str]) -> str | None:
    """
    The offered type the client rates highest (the earlier offer on a tie), or
    None when every offer is rated 0. An empty header accepts the first offer.
    """
    if not accept.strip():
        return offered[0]
    ranges = [MediaType(item) for item in accept.split(",") if item.strip()]
    best, best_quality = None, 0.0
    for media_type in offered:
        quality = _quality(MediaType(media_type), ranges)
        if quality > best_quality:
            best, best_quality = media_type, quality
    return best


def _quality(offer: MediaType, ranges: list[MediaType]) -> float:
    """The q of the most specific range that matches OFFER; 0 when none does."""
    matching = [media_range for media_range in ranges if _matches(media_range, offer)]
    if not matching:
        return 0.0
    specificity = max(media_range.specificity for media_range in matching)
    return max(r.quality for r in matching if r.specificity == specificity)


def _matches(media_range: MediaType, offer: MediaType) -> bool:
    """Type and subtype agree (or are *), and the offer has every parameter the range names."""
    if media_range.main_type not in ("*", offer.main_type):
        return False
    if media_range.sub_type not in ("*", offer.sub_type):
        return False
    # Parameter values such as charset names compare without regard to case.
    offered = {name: value.lower() for name, value in offer.range_params.items()}
    return all(
        offered.get(name) == value.lower() for name, value in media_range.range_params.items()
    )

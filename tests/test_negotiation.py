"""Content negotiation by Accept, as RFC 9110 rates media ranges; pure, no request needed."""

import pytest

from visits.negotiation import best_offer

OFFERED = [
    "text/plain; charset=utf-8",
    "text/html; charset=utf-8",
    "application/json; charset=utf-8",
]
PLAIN, HTML, JSON = OFFERED
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        ("", PLAIN),
        ("*/*", PLAIN),
        (BROWSER, HTML),
        ("application/json", JSON),
        ("application/json; charset=utf-8", JSON),
        ("application/json;charset=UTF-8", JSON),
        ("text/plain; charset=utf-8", PLAIN),
        ("text/*", PLAIN),
        ("text/*;q=0.5, text/html", HTML),
        ("application/json;q=0.5, text/html;q=0.9", HTML),
        ("text/plain;q=0, */*", HTML),
        ("text/plain;q=0, text/html;q=0, */*;q=0.1", JSON),
        ("application/json;q=abc", JSON),
        (", ,application/json,,", JSON),
        (",".join(["image/png"] * 1000 + ["application/json;q=0.1"]), JSON),
    ],
)
def test_best_offer_rates_each_offer_by_its_most_specific_range(accept, chosen):
    assert best_offer(accept, OFFERED) == chosen


@pytest.mark.parametrize(
    "accept",
    [
        "image/png",
        "*/*;q=0",
        "text/plain; charset=latin-1",
        "application/json;q=0, text/*;q=0",
        "garbage",
        "text",
        "/",
        "\x00;;;=,q=1",
    ],
)
def test_best_offer_nothing_acceptable_is_none(accept):
    assert best_offer(accept, OFFERED) is None

"""Every sentence the service says, in the active language."""

from django.utils.translation import gettext, ngettext, npgettext

from visits.counting import Counts


def count_sentence(counts: Counts) -> str:
    """
    The exercise's sentence. Its pt-BR form is a contract that scripts compare
    byte for byte, "1 registros" included, so the catalog gives both plural
    forms the same wording there.
    """
    records = ngettext(
        "%(engine)s database has %(count)d record.",
        "%(engine)s database has %(count)d records.",
        counts.accesses,
    ) % {"engine": counts.database_product, "count": counts.accesses}
    return f"{records} {_visits_clause(counts, contract=True)}"


def page_sentence(counts: Counts) -> str:
    """The same sentence for people reading the HTML page, plurals worded properly."""
    records = npgettext(
        "page",
        "%(engine)s database has %(count)d record.",
        "%(engine)s database has %(count)d records.",
        counts.accesses,
    ) % {"engine": counts.database_product, "count": counts.accesses}
    return f"{records} {_visits_clause(counts, contract=False)}"


def _visits_clause(counts: Counts, *, contract: bool) -> str:
    if counts.visits is None:
        return counter_unavailable(counts.cache_product)
    if contract:
        clause = ngettext(
            "%(engine)s counts %(count)d visit.",
            "%(engine)s counts %(count)d visits.",
            counts.visits,
        )
    else:
        clause = npgettext(
            "page",
            "%(engine)s counts %(count)d visit.",
            "%(engine)s counts %(count)d visits.",
            counts.visits,
        )
    return clause % {"engine": counts.cache_product, "count": counts.visits}


def counter_unavailable(cache_product: str) -> str:
    return gettext(
        "The %(engine)s visit counter is unavailable right now, "
        "so this visit was recorded but not counted."
    ) % {"engine": cache_product}


def database_unavailable(database_product: str) -> str:
    return gettext(
        "The %(engine)s database is unavailable right now; please try again in a few moments."
    ) % {"engine": database_product}


def database_too_slow(database_product: str) -> str:
    return gettext(
        "The %(engine)s database took too long to answer; please try again in a few moments."
    ) % {"engine": database_product}


def not_acceptable() -> str:
    return gettext(
        "This page is available as text/plain, text/html or application/json; "
        "ask for one of them in the Accept header."
    )


def page_not_found() -> str:
    return gettext("There is nothing at this address; check it, or start from the visits page.")


def bad_request() -> str:
    return gettext(
        "This request could not be understood; check its address and headers, then try again."
    )


def login_locked_out(minutes: int) -> str:
    return ngettext(
        "Too many failed logins from this address or for this user; "
        "try again in %(minutes)d minute.",
        "Too many failed logins from this address or for this user; "
        "try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}

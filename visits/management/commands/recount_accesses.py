import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import OperationalError, connection, models, transaction
from django.db.models import Count, Sum
from django.db.models.functions import TruncHour

from visits import access_queries
from visits.models import ACCESS_COUNT_SLOTS, Access, AccessCountSlot, HourlyAccessCountSlot
from visits.repairs import (
    REPAIR_LOCK_TIMEOUT,
    REPAIR_STATEMENT_TIMEOUT,
    one_snapshot,
    set_timeouts,
)

# How long a correction waits for a slot's row before it tries the next one: a
# transaction that writes accesses holds its slot's row until it commits.
SLOT_LOCK_TIMEOUT = "50ms"


class Command(BaseCommand):
    help = (
        "Recount the access table and correct any drift of the access count and the hourly "
        "counts. Page views go on meanwhile: the table is read in one snapshot (seconds per "
        "ten million rows) and the differences are added to the counts afterwards."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        set_timeouts(statement=REPAIR_STATEMENT_TIMEOUT, lock=REPAIR_LOCK_TIMEOUT)
        # Whatever commits after the snapshot changes a count and what it counts
        # alike, so a difference read in the snapshot is still the drift later.
        with one_snapshot():
            actual, derived = Access.objects.count(), access_queries.access_count()
            hours_off = _hourly_drift()
        with transaction.atomic():
            if actual != derived:
                _add_to_total(actual - derived)
            for hour, difference in hours_off.items():
                _add_to_hour(hour, difference)
        self._report(actual, derived, len(hours_off))

    def _report(self, actual: int, derived: int, hours_off: int) -> None:
        if actual == derived and not hours_off:
            self.stdout.write(f"The access counts are exact: {actual} records.")
            return
        if actual != derived:
            self.stdout.write(
                self.style.WARNING(
                    f"The access count said {derived} but the table held {actual} records "
                    f"(drift {derived - actual:+d}); fixed."
                )
            )
        if hours_off:
            self.stdout.write(
                self.style.WARNING(f"The hourly counts were wrong for {hours_off} hour(s); fixed.")
            )


def _hourly_drift() -> dict[datetime.datetime, int]:
    """By how much each hour's count falls short of the accesses in it (negative: over)."""
    actual = dict(
        Access.objects.annotate(hour=TruncHour("created_at", tzinfo=datetime.UTC))
        .values_list("hour")
        .annotate(total=Count("id"))
        .values_list("hour", "total")
    )
    derived = dict(
        HourlyAccessCountSlot.objects.values_list("hour")
        .annotate(total=Sum("count"))
        .values_list("hour", "total")
    )
    differences = {
        hour: actual.get(hour, 0) - derived.get(hour, 0) for hour in actual.keys() | derived.keys()
    }
    return {hour: difference for hour, difference in differences.items() if difference}


def _add_to_total(amount: int) -> None:
    _add_to_a_free_slot(AccessCountSlot, amount)


def _add_to_hour(hour: datetime.datetime, amount: int) -> None:
    _add_to_a_free_slot(HourlyAccessCountSlot, amount, hour=hour)


def _add_to_a_free_slot(
    model: type[AccessCountSlot] | type[HourlyAccessCountSlot], amount: int, **row: Any
) -> None:
    """
    Add amount to the first slot (a count is the sum over its slots, so any will
    do) whose row no other transaction holds: one still writing accesses, a bulk
    load say, holds its own slot for as long as it runs.
    """
    for slot in range(ACCESS_COUNT_SLOTS):
        try:
            # A savepoint, so that a lock timeout leaves the transaction usable.
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT set_config('lock_timeout', %s, true)", [SLOT_LOCK_TIMEOUT])
                counted, _ = model.objects.select_for_update().get_or_create(slot=slot, **row)
                model.objects.filter(pk=counted.pk).update(count=models.F("count") + amount)
            return
        except OperationalError as error:
            if getattr(error.__cause__, "sqlstate", None) != "55P03":
                raise
    raise CommandError(
        "Every slot of the access count is held by transactions still writing accesses; "
        "run this again when they end."
    )

import datetime
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Count, Sum
from django.db.models.functions import TruncHour

from visits import storage
from visits.maintenance import (
    REPAIR_LOCK_TIMEOUT,
    REPAIR_STATEMENT_TIMEOUT,
    one_snapshot,
    set_timeouts,
)
from visits.models import Access, AccessCountSlot, HourlyAccessCountSlot

# The slot that takes the corrections; the counts are sums over slots, so any will do.
CORRECTION_SLOT = 0


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
            actual, derived = Access.objects.count(), storage.access_count()
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
    counted, _ = AccessCountSlot.objects.select_for_update().get_or_create(slot=CORRECTION_SLOT)
    counted.count += amount
    counted.save(update_fields=["count"])


def _add_to_hour(hour: datetime.datetime, amount: int) -> None:
    counted, _ = HourlyAccessCountSlot.objects.select_for_update().get_or_create(
        hour=hour, slot=CORRECTION_SLOT
    )
    counted.count += amount
    counted.save(update_fields=["count"])

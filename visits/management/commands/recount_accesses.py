import datetime

from django.core.management.base import BaseCommand
from django.db.models import Count, Sum
from django.db.models.functions import TruncHour

from visits.maintenance import access_table_frozen
from visits.models import Access, AccessCount, HourlyAccessCount


class Command(BaseCommand):
    help = (
        "Recompute the access count and the hourly counts from the access table and fix any "
        "drift. Inserts wait while the table is counted (seconds per ten million rows)."
    )

    def handle(self, *args, **options) -> None:
        with access_table_frozen():
            total_drift = self._recount_total()
            hours_drifted = self._recount_hours()
        if total_drift is None and not hours_drifted:
            self.stdout.write(
                f"The access counts are exact: {AccessCount.objects.total()} records."
            )
            return
        if total_drift is not None:
            derived, actual = total_drift
            self.stdout.write(
                self.style.WARNING(
                    f"The access count said {derived} but the table holds {actual} records "
                    f"(drift {derived - actual:+d}); fixed."
                )
            )
        if hours_drifted:
            self.stdout.write(
                self.style.WARNING(
                    f"The hourly counts were wrong for {hours_drifted} hour(s); fixed."
                )
            )

    @staticmethod
    def _recount_total() -> tuple[int, int] | None:
        """(derived, actual) when they differed and were fixed; None when exact."""
        actual = Access.objects.count()
        derived = AccessCount.objects.total()
        if actual == derived:
            return None
        AccessCount.objects.all().delete()
        AccessCount.objects.create(slot=0, count=actual)
        return derived, actual

    @staticmethod
    def _recount_hours() -> int:
        """How many hours were wrong (and are now fixed)."""
        actual = dict(
            Access.objects.annotate(hour=TruncHour("created_at", tzinfo=datetime.UTC))
            .values_list("hour")
            .annotate(total=Count("id"))
            .values_list("hour", "total")
        )
        derived = {
            hour: total
            for hour, total in HourlyAccessCount.objects.values_list("hour")
            .annotate(total=Sum("count"))
            .values_list("hour", "total")
            if total
        }
        wrong = {
            hour for hour in actual.keys() | derived.keys() if actual.get(hour) != derived.get(hour)
        }
        if wrong:
            HourlyAccessCount.objects.all().delete()
            HourlyAccessCount.objects.bulk_create(
                HourlyAccessCount(hour=hour, slot=0, count=total) for hour, total in actual.items()
            )
        return len(wrong)

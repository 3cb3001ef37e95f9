from django.core.management.base import BaseCommand
from django.db import connection, transaction

from visits.models import Access, AccessCount


class Command(BaseCommand):
    help = (
        "Recompute the access count from the access table and fix any drift. Inserts wait "
        "while the table is counted (about a second per ten million rows)."
    )

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                # Readers go on; writers wait, so the two numbers describe one moment.
                with connection.cursor() as cursor:
                    cursor.execute("LOCK TABLE visits_access IN SHARE MODE")
            actual = Access.objects.count()
            derived = AccessCount.objects.total()
            if actual == derived:
                self.stdout.write(f"The access count is exact: {actual} records.")
                return
            AccessCount.objects.all().delete()
            AccessCount.objects.create(slot=0, count=actual)
        self.stdout.write(
            self.style.WARNING(
                f"The access count said {derived} but the table holds {actual} records "
                f"(drift {derived - actual:+d}); fixed."
            )
        )

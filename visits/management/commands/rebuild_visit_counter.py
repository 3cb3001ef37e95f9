from django.core.management.base import BaseCommand, CommandError

from visits import visit_counter
from visits.maintenance import access_table_frozen
from visits.models import AccessCount


class Command(BaseCommand):
    help = (
        "Raise the Redis visit counter to at least the number of access records, for when "
        "the cache lost its data. Never lowers it; safe to run again and while traffic flows."
    )

    def handle(self, *args, **options) -> None:
        # No access row commits while the counter is raised: a row counted here
        # has its visit counted already or about to be, never lost.
        with access_table_frozen():
            accesses = AccessCount.objects.total()
            try:
                before, after = visit_counter.raise_to(accesses)
            except visit_counter.NotShared as error:
                raise CommandError(str(error)) from error
        if before is None:
            raise CommandError(
                "The visit counter's cache does not answer; check CACHE_HOST and CACHE_PORT "
                "and run this again."
            )
        if after == before:
            self.stdout.write(
                f"The visit counter ({before}) already covers the {accesses} access records."
            )
        else:
            self.stdout.write(
                self.style.WARNING(
                    f"Raised the visit counter from {before} to {after}, the number of "
                    "access records."
                )
            )

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from visits import drift


class Command(BaseCommand):
    help = (
        "Say how far the visit counter is behind the number of access records, and since "
        "when (visits answered while the counter was unavailable are never counted)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        measured = drift.measure()
        if measured is None:
            raise CommandError(
                "The visit counter's cache does not answer; check CACHE_HOST and CACHE_PORT "
                "and run this again."
            )
        if measured.behind > 0:
            self.stdout.write(
                self.style.WARNING(
                    f"The visit counter ({measured.visits}) is {measured.behind} behind the "
                    f"{measured.accesses} access records, since "
                    f"{measured.since:%Y-%m-%d %H:%M:%S %Z}; rebuild_visit_counter raises it."
                )
            )
        elif measured.behind < 0:
            self.stdout.write(
                f"The visit counter ({measured.visits}) is {-measured.behind} ahead of the "
                f"{measured.accesses} access records (records were deleted)."
            )
        else:
            self.stdout.write(
                f"The visit counter ({measured.visits}) counts all {measured.accesses} "
                "access records."
            )

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Max

from visits import access_queries, visit_counter
from visits.models import Access
from visits.repairs import (
    REPAIR_LOCK_TIMEOUT,
    REPAIR_STATEMENT_TIMEOUT,
    inserts_paused,
    set_timeouts,
)


class Command(BaseCommand):
    help = (
        "Raise the Redis visit counter to at least the number of access records, for when "
        "the cache lost its data. Never lowers it, never counts a visit twice; safe to run "
        "again and while traffic flows (inserts wait a few milliseconds). With --exact, set "
        "it to that number even when it is higher (after restoring a backup)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--exact",
            action="store_true",
            help="Set the counter to the number of access records, lowering it if need be.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        set_timeouts(statement=REPAIR_STATEMENT_TIMEOUT, lock=REPAIR_LOCK_TIMEOUT)
        # With no insert in flight, every access up to the highest id is
        # committed and in the count; a page view that stored one of them but
        # has yet to count it finds it counted (visit_counter.increment).
        with inserts_paused():
            accesses = access_queries.access_count()
            counted_up_to = Access.objects.aggregate(last=Max("id"))["last"] or 0
            if options["exact"]:
                before, after = visit_counter.set_to(accesses, counted_up_to=counted_up_to)
            else:
                before, after = visit_counter.raise_to(accesses, counted_up_to=counted_up_to)
        if before is None:
            raise CommandError(
                "The visit counter's cache does not answer; check CACHE_HOST and CACHE_PORT "
                "and run this again."
            )
        if after == before and options["exact"]:
            self.stdout.write(f"The visit counter ({before}) already equals the access records.")
        elif after == before:
            self.stdout.write(
                f"The visit counter ({before}) already covers the {accesses} access records."
            )
        else:
            verb = "Set" if options["exact"] else "Raised"
            self.stdout.write(
                self.style.WARNING(
                    f"{verb} the visit counter from {before} to {after}, the number of "
                    "access records."
                )
            )

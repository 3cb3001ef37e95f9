"""Page views per hour and per day, read from the trigger-kept hourly counts."""

import datetime
from dataclasses import dataclass

from django.db.models import Sum
from django.utils import timezone

from visits.models import HourlyAccessCountSlot

HOURS = 24
DAYS = 30


@dataclass(frozen=True)
class Traffic:
    hourly: list[tuple[datetime.datetime, int]]  # the last 24 hours, oldest first, local time
    daily: list[tuple[datetime.date, int]]  # the last 30 days, oldest first, local dates


def recent_traffic(now: datetime.datetime | None = None) -> Traffic:
    """
    Counts for the last 24 hours (the current one included) and the last 30 days
    (today included), in the active time zone. One query over at most 720 hours,
    whatever the size of the access table.
    """
    now = now or timezone.now()
    zone = timezone.get_current_timezone()
    current_hour = now.astimezone(datetime.UTC).replace(minute=0, second=0, microsecond=0)
    first_hour = current_hour - datetime.timedelta(hours=HOURS - 1)
    today = timezone.localtime(now, zone).date()
    first_day = today - datetime.timedelta(days=DAYS - 1)
    first_day_start = datetime.datetime.combine(first_day, datetime.time(), zone)

    counts = dict(
        HourlyAccessCountSlot.objects.filter(hour__gte=min(first_hour, first_day_start))
        .values_list("hour")
        .annotate(total=Sum("count"))
        .values_list("hour", "total")
    )
    hourly = [
        (timezone.localtime(hour, zone), counts.get(hour, 0))
        for hour in (first_hour + datetime.timedelta(hours=n) for n in range(HOURS))
    ]
    per_day = dict.fromkeys((first_day + datetime.timedelta(days=n) for n in range(DAYS)), 0)
    for hour, total in counts.items():
        day = timezone.localtime(hour, zone).date()
        if day in per_day:
            per_day[day] += total
    return Traffic(hourly=hourly, daily=list(per_day.items()))

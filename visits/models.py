import datetime
from typing import NamedTuple

from django.db import connections, models, router
from django.db.models import Lookup, Max, Min, Sum
from django.db.models.expressions import Col
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

USER_AGENT_MAX_LENGTH = 512
# Rows the access count is spread over (see AccessCount); migration 0002 matches it.
ACCESS_COUNT_SLOTS = 16


_TRUNCATIONS = {
    "year": lambda moment: moment.replace(
        month=1, day=1, hour=0, minute=0, second=0, microsecond=0
    ),
    "month": lambda moment: moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0),
    "day": lambda moment: moment.replace(hour=0, minute=0, second=0, microsecond=0),
}

# The page's hot path, in SQL that PostgreSQL and SQLite both take: the ORM's
# insert and aggregate would cost three times the CPU of the queries themselves.
_TOTAL_SQL = "SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM visits_accesscount"
_RECORD_SQL = (
    "INSERT INTO visits_access (client_address, user_agent) VALUES (%s, %s) "
    "RETURNING id, (SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM visits_accesscount) + 1"
)


class Recorded(NamedTuple):
    access_id: int
    accesses: int  # the number of accesses, this one included


class AccessQuerySet(models.QuerySet):
    def datetimes(self, field_name, kind, order="ASC", tzinfo=None):
        """
        The admin's date hierarchy asks which years, months or days hold rows:
        a DISTINCT over the whole table, seconds at ten million rows. When the
        only filters are ranges of created_at, the hourly counts answer it.
        """
        if field_name != "created_at" or kind not in _TRUNCATIONS or not self._filters_only_time():
            return super().datetimes(field_name, kind, order, tzinfo)
        bounds = self.aggregate(first=Min("created_at"), last=Max("created_at"))
        if bounds["first"] is None:
            return []
        zone = tzinfo or timezone.get_current_timezone()
        first_hour = bounds["first"].replace(minute=0, second=0, microsecond=0)
        hours = (
            HourlyAccessCount.objects.filter(hour__gte=first_hour, hour__lte=bounds["last"])
            .values("hour")
            .annotate(total=Sum("count"))
            .filter(total__gt=0)
            .values_list("hour", flat=True)
        )
        truncate = _TRUNCATIONS[kind]
        found = {truncate(timezone.localtime(hour, zone)) for hour in hours}
        return sorted(found, reverse=order == "DESC")

    def _filters_only_time(self) -> bool:
        """Whether every filter is a plain condition on created_at, as date filters are."""
        where = self.query.where
        if where.connector != "AND" or where.negated:
            return False
        for condition in where.children:
            if not isinstance(condition, Lookup):
                return False
            column = condition.lhs
            while not isinstance(column, Col) and hasattr(column, "lhs"):
                column = column.lhs
            if not isinstance(column, Col) or column.target.name != "created_at":
                return False
        return True

    def record(self, *, client_address: str | None, user_agent: str) -> Recorded:
        """
        Insert one access and return its id and the number of accesses, this
        one included, in one round trip.

        The subquery reads the access count as of this statement's snapshot,
        before its trigger adds this row: plus one, it equals what count(*)
        would return at that moment.
        """
        connection = connections[router.db_for_write(self.model)]
        with connection.cursor() as cursor:
            cursor.execute(_RECORD_SQL, [client_address, user_agent])
            return Recorded(*cursor.fetchone())


class Access(models.Model):
    """One counted page view: an append-only audit record."""

    # Database defaults keep rows written by raw SQL or bulk loads complete too.
    created_at = models.DateTimeField(_("when"), db_default=Now(), db_index=True)
    client_address = models.GenericIPAddressField(_("client address"), null=True, blank=True)
    user_agent = models.CharField(
        _("user agent"), max_length=USER_AGENT_MAX_LENGTH, db_default="", blank=True
    )

    objects = AccessQuerySet.as_manager()

    class Meta:
        verbose_name = _("access")
        verbose_name_plural = _("accesses")
        ordering = ["-created_at", "-id"]
        indexes = [
            # The admin's search: one address's accesses, newest first.
            models.Index(fields=["client_address", "-created_at"], name="visits_access_address"),
        ]

    def __str__(self) -> str:
        # Until it is saved and read back, created_at is the database's default, not a time.
        when = (
            f"{self.created_at:%Y-%m-%d %H:%M:%S}"
            if isinstance(self.created_at, datetime.datetime)
            else "(not saved)"
        )
        return f"{self.client_address or '-'} @ {when}"


class AccessCountQuerySet(models.QuerySet):
    def total(self) -> int:
        """The number of Access rows, read from the slots in constant time."""
        with connections[self.db].cursor() as cursor:
            cursor.execute(_TOTAL_SQL)
            return cursor.fetchone()[0]


class AccessCount(models.Model):
    """
    A share of the number of Access rows, kept exact by database triggers
    (migration 0002) through inserts, deletes and truncation, whether they come
    from the ORM, raw SQL or a bulk load. The total is the sum over the slots:
    each PostgreSQL connection adds to the slot its backend process picks, so
    concurrent page views update different rows instead of queueing on one
    row lock. A slot's row appears with its first change.
    """

    slot = models.PositiveSmallIntegerField(primary_key=True)
    count = models.BigIntegerField(default=0)

    objects = AccessCountQuerySet.as_manager()

    class Meta:
        verbose_name = _("access count")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(slot__lt=ACCESS_COUNT_SLOTS),
                name="visits_accesscount_slot_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"slot {self.slot}: {self.count}"


class HourlyAccessCount(models.Model):
    """
    The number of Access rows created in one UTC hour, spread over slots like
    AccessCount and kept by the same triggers (migration 0003), so that traffic
    charts read at most a few thousand rows whatever the table's size.
    """

    hour = models.DateTimeField()
    slot = models.PositiveSmallIntegerField()
    count = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("hourly access count")
        constraints = [
            models.UniqueConstraint(fields=["hour", "slot"], name="visits_hourly_hour_slot"),
            models.CheckConstraint(
                condition=models.Q(slot__lt=ACCESS_COUNT_SLOTS),
                name="visits_hourly_slot_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h slot {self.slot}: {self.count}"

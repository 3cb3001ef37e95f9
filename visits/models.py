from django.db import connections, models, router
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

USER_AGENT_MAX_LENGTH = 512
# Rows the access count is spread over (see AccessCount); migration 0002 matches it.
ACCESS_COUNT_SLOTS = 16


# The page's hot path, in SQL that PostgreSQL and SQLite both take: the ORM's
# insert and aggregate would cost three times the CPU of the queries themselves.
_TOTAL_SQL = "SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM visits_accesscount"
_RECORD_SQL = (
    "INSERT INTO visits_access (client_address, user_agent) VALUES (%s, %s) "
    "RETURNING (SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM visits_accesscount) + 1"
)


class AccessQuerySet(models.QuerySet):
    def record(self, *, client_address: str | None, user_agent: str) -> int:
        """
        Insert one access and return the number of accesses, this one included,
        in one round trip.

        The subquery reads the access count as of this statement's snapshot,
        before its trigger adds this row: plus one, it equals what count(*)
        would return at that moment.
        """
        connection = connections[router.db_for_write(self.model)]
        with connection.cursor() as cursor:
            cursor.execute(_RECORD_SQL, [client_address, user_agent])
            return cursor.fetchone()[0]


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

    def __str__(self) -> str:
        return f"{self.client_address or '-'} @ {self.created_at:%Y-%m-%d %H:%M:%S}"


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

import datetime

from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

USER_AGENT_MAX_LENGTH = 512
# The rows the access count is spread over (see AccessCountSlot). The triggers
# of migrations 0002, 0003 and 0005 hold the same number; tests/test_triggers.py
# reads it back from the database.
ACCESS_COUNT_SLOTS = 16


class Access(models.Model):
    """One page view, stored: an append-only audit record."""

    # Database defaults keep rows written by raw SQL or bulk loads complete too.
    created_at = models.DateTimeField(_("when"), db_default=Now(), db_index=True)
    client_address = models.GenericIPAddressField(_("client address"), null=True, blank=True)
    user_agent = models.CharField(
        _("user agent"), max_length=USER_AGENT_MAX_LENGTH, db_default="", blank=True
    )

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


class AccessCountSlot(models.Model):
    """
    One share of the access count, kept exact by database triggers (migration
    0002) through inserts, deletes and truncation, whether they come from the
    ORM, raw SQL or a bulk load. The access count is the sum over the slots:
    each PostgreSQL connection adds to the slot its backend process picks, so
    concurrent page views update different rows instead of queueing on one
    row lock. A slot's row appears with its first change.
    """

    slot = models.PositiveSmallIntegerField(primary_key=True)
    count = models.BigIntegerField(default=0)

    class Meta:
        db_table = "visits_accesscount"
        verbose_name = _("access count")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(slot__lt=ACCESS_COUNT_SLOTS),
                name="visits_accesscount_slot_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"slot {self.slot}: {self.count}"


class HourlyAccessCountSlot(models.Model):
    """
    One slot of the number of accesses created in one UTC hour, spread like
    AccessCountSlot and kept by the same triggers (migration 0003), so that
    traffic charts read at most a few thousand rows whatever the table's size.
    """

    hour = models.DateTimeField()
    slot = models.PositiveSmallIntegerField()
    count = models.BigIntegerField(default=0)

    class Meta:
        db_table = "visits_hourlyaccesscount"
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

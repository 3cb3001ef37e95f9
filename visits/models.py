from django.db import models
from django.db.models import Sum
from django.db.models.functions import Coalesce, Now
from django.utils.translation import gettext_lazy as _

USER_AGENT_MAX_LENGTH = 512
# Rows the access count is spread over (see AccessCount); migration 0002 matches it.
ACCESS_COUNT_SLOTS = 16


class Access(models.Model):
    """One counted page view: an append-only audit record."""

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

    def __str__(self) -> str:
        return f"{self.client_address or '-'} @ {self.created_at:%Y-%m-%d %H:%M:%S}"


class AccessCountQuerySet(models.QuerySet):
    def total(self) -> int:
        """The number of Access rows, read from the slots in constant time."""
        return self.aggregate(total=Coalesce(Sum("count"), 0))["total"]


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

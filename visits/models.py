from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

USER_AGENT_MAX_LENGTH = 512


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

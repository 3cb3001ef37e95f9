from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Warning, register


@register(deploy=False)
def secret_key_from_environment(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    if settings.SECRET_KEY_FROM_ENVIRONMENT:
        return []
    return [
        Warning(
            "DJANGO_SECRET_KEY is not set, so a random key was generated for this run.",
            hint="Sessions and admin logins will not survive a restart; set DJANGO_SECRET_KEY.",
            id="visits.W001",
        )
    ]

"""visits/checks.py: the warning that a generated secret key does not survive a restart."""

import pytest
from django.core.checks import Warning

from tests.support.commands import manage
from visits.checks import secret_key_from_environment


def test_secret_key_from_the_environment_warns_of_nothing(settings):
    settings.SECRET_KEY_FROM_ENVIRONMENT = True

    assert secret_key_from_environment(None) == []


def test_generated_secret_key_warns_that_sessions_will_not_survive(settings):
    settings.SECRET_KEY_FROM_ENVIRONMENT = False

    assert secret_key_from_environment(None) == [
        Warning(
            "DJANGO_SECRET_KEY is not set, so a random key was generated for this run.",
            hint="Sessions and admin logins will not survive a restart; set DJANGO_SECRET_KEY.",
            id="visits.W001",
        )
    ]


@pytest.mark.processes
def test_manage_check_without_secret_key_warns_that_sessions_will_not_survive():
    result = manage("check", DJANGO_SECRET_KEY="")

    assert result.returncode == 0
    assert "visits.W001" in result.stderr
    assert "DJANGO_SECRET_KEY is not set, so a random key was generated" in result.stderr

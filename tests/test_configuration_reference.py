"""tools/configuration_reference.py: docs/configuration.md, generated from the code."""

import re

import pytest

from tools.configuration_reference import (
    PROJECT_ROOT,
    ConfigurationReferenceError,
    page,
    project_variables,
    readers,
    reads,
    variables,
)
from visits_project import env

# Variables the code reads that .env.example leaves out on purpose.
NOT_IN_ENV_EXAMPLE = {
    # Retired: read only to stop start-up with the name of its successor.
    "DJANGO_TRUSTED_PROXY_COUNT",
    # Only the tests set it; unset, gunicorn makes a folder of its own.
    "PROMETHEUS_MULTIPROC_DIR",
}


def parsed(reader: str, text: str) -> object:
    """TEXT as READER reads it, for the kinds of value .env.example gives."""
    if reader == "env_int":
        return int(text)
    if reader in {"env_float", "env_milliseconds"}:
        return float(text)
    if reader == "env_bool":
        return text.lower() in env._TRUE
    if reader == "env_list":
        return [item.strip() for item in text.split(",") if item.strip()]
    return text


def test_configuration_page_equals_what_the_code_generates():
    written = (PROJECT_ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")

    assert written == page(project_variables()), (
        "docs/configuration.md differs from what the code says; run `make docs`."
    )


def test_variables_read_without_comment_raise():
    """A variable added to a copy of settings.py with no comment above it stops the generator."""
    settings = (PROJECT_ROOT / "visits_project" / "settings.py").read_text(encoding="utf-8")
    scratch = settings + '\nNEW_SETTING = env_int("DJANGO_NEW_SETTING", 1)\n'

    with pytest.raises(ConfigurationReferenceError) as raised:
        variables(reads(scratch, "visits_project/settings.py", readers()))

    assert str(raised.value) == (
        "DJANGO_NEW_SETTING, read in visits_project/settings.py, has no comment directly "
        "above the line that reads it; write one saying what it does and why."
    )


def test_variables_read_under_a_comment_take_it_as_their_meaning():
    source = (
        'OTHER = env_str("DJANGO_OTHER")\n'
        "# Seconds to wait for\n"
        "# the answer.\n"
        'SETTING = env_float("DJANGO_WAIT", 1.5)\n'
    )

    (documented,) = variables(reads(source, "visits_project/settings.py", ["env_float"]))

    assert (documented.name, documented.default, documented.meaning, documented.places) == (
        "DJANGO_WAIT",
        "1.5",
        "Seconds to wait for the answer.",
        ("visits_project/settings.py",),
    )


def test_variables_read_with_two_defaults_raise():
    first = reads('# Seconds.\nA = env_int("WAIT", 60)\n', "gunicorn.conf.py", ["env_int"])
    second = reads('# Seconds.\nB = env_int("WAIT", 30)\n', "devservices/x.py", ["env_int"])

    with pytest.raises(ConfigurationReferenceError) as raised:
        variables(first + second)

    assert str(raised.value) == (
        "WAIT is read with the default 60 in gunicorn.conf.py but 30 in devservices/x.py; "
        "give every read of it the same default."
    )


def test_env_example_lists_every_variable_with_its_default():
    """.env.example names each variable the code reads (commented out counts), with its default."""
    example = (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8")
    listed = dict(re.findall(r"^(?:# )?([A-Z][A-Z0-9_]*)=(.*)$", example, re.MULTILINE))
    documented = {variable.name: variable for variable in project_variables()}

    assert set(listed) == set(documented) - NOT_IN_ENV_EXAMPLE
    differing = {
        name: (value, documented[name].default)
        for name, value in listed.items()
        if value
        and documented[name].default is not None
        and parsed(documented[name].reader, value) != documented[name].default_value
    }
    assert differing == {}

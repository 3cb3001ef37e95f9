"""Every message people can see exists in pt-BR, and the compiled catalog is current."""

import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

from tests.support.debian_programs import require
from tests.support.servers import PROJECT_ROOT

CATALOG = PROJECT_ROOT / "visits/locale/pt_BR/LC_MESSAGES/django.po"


def test_catalog_has_no_untranslated_or_fuzzy_message():
    catalog = polib.pofile(str(CATALOG))

    assert [entry.msgid for entry in catalog.untranslated_entries()] == []
    assert [entry.msgid for entry in catalog.fuzzy_entries()] == []


def test_compiled_catalog_matches_its_source():
    compiled = polib.mofile(str(CATALOG.with_suffix(".mo")))
    source = polib.pofile(str(CATALOG))

    def messages(catalog):
        return {
            (entry.msgctxt, entry.msgid): entry.msgstr or tuple(entry.msgstr_plural.values())
            for entry in catalog
        }

    assert messages(compiled) == messages(source)


@pytest.mark.processes
def test_catalog_holds_every_message_in_the_code(tmp_path: Path):
    require("xgettext", packages="gettext", tests="message extraction tests")
    copy = tmp_path / "visits"
    shutil.copytree(PROJECT_ROOT / "visits", copy)
    shutil.copy(PROJECT_ROOT / "manage.py", tmp_path)
    shutil.copytree(PROJECT_ROOT / "visits_project", tmp_path / "visits_project")
    shutil.copytree(PROJECT_ROOT / "serving", tmp_path / "serving")

    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "pt_BR", "--no-location"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )

    extracted = polib.pofile(str(copy / "locale/pt_BR/LC_MESSAGES/django.po"))
    committed = polib.pofile(str(CATALOG))
    assert {(e.msgctxt, e.msgid) for e in extracted} == {(e.msgctxt, e.msgid) for e in committed}

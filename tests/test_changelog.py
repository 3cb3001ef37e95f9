"""CHANGELOG.md: Keep a Changelog's form, newest first, its newest version the project's."""

import re
import tomllib

from tests.support.servers import PROJECT_ROOT

RELEASE = re.compile(r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})$", re.MULTILINE)


def test_changelog_releases_run_newest_first_up_to_the_projects_version():
    changelog = (PROJECT_ROOT / "CHANGELOG.md").read_text()
    releases = RELEASE.findall(changelog)
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    versions = [tuple(int(part) for part in version.split(".")) for version, _ in releases]

    assert changelog.index("## [Unreleased]") < changelog.index(f"## [{releases[0][0]}]")
    assert releases[0][0] == project["version"]
    assert versions == sorted(versions, reverse=True)
    assert [date for _, date in releases] == sorted((date for _, date in releases), reverse=True)
    assert releases[-1][0] == "0.1.0"

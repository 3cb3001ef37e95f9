"""
The README's "Where things are": every path it names exists, and every top-level
entry, every module and folder of the project's packages, every management command
and every script of docker/ is named there, so one added without its line fails here.

Each line of the layout is NAMES (comma-separated, in the first NAMES_WIDTH columns;
indented two spaces under the folder above it) and a description; a line whose names
column is empty goes on with the description above.
"""

import re
import subprocess
from pathlib import Path

from tests.support.debian_programs import require
from tests.support.servers import PROJECT_ROOT

NAMES_WIDTH = 29
# Packages whose every module and folder the layout names.
PACKAGES = ["visits_project", "visits", "serving", "devservices", "tools"]
# Top-level files the layout leaves out: the README itself, and the ignore lists.
UNLISTED = {"README.md", ".gitignore", ".dockerignore"}


def layout() -> list[tuple[str, list[str], str]]:
    """(parent folder, names, description) of each line of the layout."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    block = re.search(r"<!-- layout:start -->\n```\n(.*?)```\n<!-- layout:end -->", readme, re.S)
    assert block, "README.md has no layout section between its markers"
    entries: list[tuple[str, list[str], str]] = []
    folder = ""
    for line in block[1].splitlines():
        names_column, description = line[:NAMES_WIDTH], line[NAMES_WIDTH:].strip()
        assert len(line) <= NAMES_WIDTH or line[NAMES_WIDTH - 1] == " ", f"names too wide: {line}"
        names = [name.strip() for name in names_column.split(",") if name.strip()]
        if not names:
            parent, names, before = entries[-1]
            entries[-1] = (parent, names, f"{before} {description}")
        elif line.startswith("  "):
            entries.append((folder, names, description))
        else:
            entries.append(("", names, description))
            folder = next((name for name in names if name.endswith("/")), folder)
    return entries


def listed(folder: str) -> set[str]:
    """What the layout names in FOLDER: its children's lines, and the words of its own line."""
    names = {
        Path(name).parts[0]
        for parent, children, _ in layout()
        if parent == folder
        for name in children
    }
    for parent, entry_names, description in layout():
        if f"{folder}" in {f"{parent}{name}" for name in entry_names}:
            names |= set(re.findall(r"[\w.-]+", description))
    return names


def tracked(folder: Path) -> set[str]:
    """The names of FOLDER's children that git tracks."""
    require("git", packages="git", tests="layout tests of tracked files")
    files = subprocess.run(
        ["git", "ls-files", "--", str(folder)], cwd=PROJECT_ROOT, capture_output=True,
        text=True, check=True,
    ).stdout.split()  # fmt: skip
    depth = len(folder.relative_to(PROJECT_ROOT).parts)
    return {Path(file).parts[depth] for file in files}


def test_every_path_the_layout_names_exists():
    missing = [
        f"{parent}{name}"
        for parent, names, _ in layout()
        for name in names
        if not any((PROJECT_ROOT / parent).glob(name.rstrip("/")))
    ]

    assert missing == []


def test_every_top_level_entry_is_in_the_layout():
    named = {Path(name).parts[0] for parent, names, _ in layout() if not parent for name in names}
    named |= {path.name for name in named for path in PROJECT_ROOT.glob(name)}

    assert sorted(tracked(PROJECT_ROOT) - UNLISTED - named) == []


def test_every_module_and_folder_of_the_packages_is_in_the_layout():
    # What is on disk, committed or not: a module just written fails here before its commit.
    unlisted = [
        f"{package}/{child.name}"
        for package in PACKAGES
        for child in sorted((PROJECT_ROOT / package).iterdir())
        if child.name not in {"__init__.py", "__pycache__"} and not child.name.startswith(".")
        and child.name not in listed(f"{package}/")
    ]  # fmt: skip

    assert unlisted == []


def test_every_management_command_and_docker_script_is_in_the_layout():
    commands = {
        Path(name).stem
        for name in tracked(PROJECT_ROOT / "visits" / "management" / "commands")
        if name != "__init__.py"
    }

    assert commands == listed("visits/management/commands/")
    assert tracked(PROJECT_ROOT / "docker") <= listed("docker/")

"""
The README and docs/: a README a newcomer reads in minutes that links every page, and
links that lead somewhere, to the file and the heading they name.
"""

import re
from pathlib import Path

import pytest

from tests.support.servers import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
DOCS = PROJECT_ROOT / "docs"
# The Markdown pages whose links are checked: the README, docs/ and the deployments' own.
PAGES = sorted(
    [
        README,
        PROJECT_ROOT / "CHANGELOG.md",
        *DOCS.glob("*.md"),
        *PROJECT_ROOT.glob("deploy/*/README.md"),
    ]
)
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def heading_anchors(page: Path) -> set[str]:
    """The anchors GitHub gives the headings: lower case, punctuation dropped, - for a space."""
    text = FENCE.sub("", page.read_text())
    headings = re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def relative_links(page: Path) -> list[str]:
    text = FENCE.sub("", page.read_text())
    return [link for link in LINK.findall(text) if not re.match(r"[a-z]+:", link)]


def test_readme_is_read_in_minutes():
    assert len(README.read_text().splitlines()) <= 200


def test_readme_links_every_page_of_docs():
    linked = {Path(link.partition("#")[0]) for link in relative_links(README)}

    assert {page.relative_to(PROJECT_ROOT) for page in DOCS.glob("*.md")} <= linked


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(PROJECT_ROOT)))
def test_every_relative_link_leads_to_its_file_and_heading(page):
    broken = []
    for link in relative_links(page):
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        missing_heading = bool(anchor) and target.suffix == ".md"
        if not target.exists() or (missing_heading and anchor not in heading_anchors(target)):
            broken.append(link)

    assert broken == []

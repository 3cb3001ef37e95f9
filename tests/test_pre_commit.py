""".pre-commit-config.yaml runs the linters `make lint` runs, from the project's .venv."""

import re

import yaml

from tests.support.servers import PROJECT_ROOT

# make lint's one check that asks the network, which a commit should not wait for.
NOT_BEFORE_A_COMMIT = {"pip-audit"}


def lint_tools() -> set[str]:
    """The programs `make lint`'s recipe runs from the .venv."""
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    recipe = re.search(r"^lint:.*\n((?:\t.*\n|    .*\n)+)", makefile, re.MULTILINE)
    assert recipe, "no lint target in the Makefile"
    return set(re.findall(r"\$\(BIN\)/([\w-]+)", recipe[1])) - {"python"}


def test_pre_commit_hooks_run_every_linter_of_make_lint_but_the_audit():
    config = yaml.safe_load((PROJECT_ROOT / ".pre-commit-config.yaml").read_text())
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    entries = [hook["entry"].split() for hook in hooks]

    assert {entry[0].removeprefix(".venv/bin/") for entry in entries} == (
        lint_tools() - NOT_BEFORE_A_COMMIT
    )
    assert all(entry[0].startswith(".venv/bin/") for entry in entries)
    assert all(hook["language"] == "system" for hook in hooks)

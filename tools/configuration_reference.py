"""
The configuration reference, docs/configuration.md, generated from the code that
reads each environment variable: its name, its default and the comment above the
line that reads it. A variable read without such a comment, or read with two
different defaults, stops the generator with one line naming it and the file, so
docs/configuration.md cannot leave a variable out or tell an old story
(tests/test_configuration_reference.py compares the two).

Usage: python -m tools.configuration_reference > docs/configuration.md (make docs)
"""

import ast
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from visits_project import env

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_MODULE = "visits_project/env.py"
# Folders of the project's root whose Python is not the service's or `make run`'s:
# tests and the benchmark set variables of their own, and these tools read none.
NOT_SERVICE_CODE = {"tests", "bench", "tools", "node_modules", "staticfiles", "backups"}

# The page's sections, in its order. A variable is listed in the first section of
# the places that read it: DB_HOST under PostgreSQL although `make run` reads it too.
POSTGRESQL, REDIS, DJANGO, GUNICORN, COMMANDS, MAKE_RUN = (
    "PostgreSQL",
    "Redis",
    "Django",
    "gunicorn",
    "Management commands",
    "`make run`",
)
SECTIONS = (POSTGRESQL, REDIS, DJANGO, GUNICORN, COMMANDS, MAKE_RUN)
SECTION_OF_PREFIX = {"DB_": POSTGRESQL, "CACHE_": REDIS, "DJANGO_": DJANGO, "WEB_": GUNICORN}
SECTION_OF_FOLDER = {"visits/management/commands/": COMMANDS, "devservices/": MAKE_RUN}
SECONDS_READERS = {"env_float", "env_milliseconds"}


class ConfigurationReferenceError(Exception):
    """A variable the page cannot document as the code stands."""


@dataclass(frozen=True)
class Read:
    """One call of a reader of visits_project/env.py with a variable's name as a literal."""

    variable: str
    reader: str
    path: str
    line: int
    # The default's source text, as written: the call's default argument, or the
    # literal after `or` (env_str("DB_HOST") or "db"); None where there is neither.
    default: str | None
    # The comment block directly above the call's line or its statement; "" if none.
    meaning: str


@dataclass(frozen=True)
class Variable:
    """One environment variable as the page lists it, from every read of it."""

    name: str
    reader: str
    default: str | None
    meaning: str
    section: str
    places: tuple[str, ...]

    @property
    def default_value(self) -> object:
        """The default as Python reads its source text; None where there is none."""
        return None if self.default is None else ast.literal_eval(self.default)


def readers() -> frozenset[str]:
    """The names of env.py's readers: every function of it whose name starts with env_."""
    tree = ast.parse((PROJECT_ROOT / ENV_MODULE).read_text(encoding="utf-8"))
    return frozenset(
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("env_")
    )


def service_sources(root: Path = PROJECT_ROOT) -> Iterator[Path]:
    """The project's Python outside tests/, bench/ and hidden folders (.venv, .run), by path."""
    for folder, subfolders, files in os.walk(root):
        here = Path(folder)
        subfolders[:] = sorted(
            name
            for name in subfolders
            if not name.startswith(".") and not (here == root and name in NOT_SERVICE_CODE)
        )
        for name in sorted(files):
            if name.endswith(".py"):
                yield here / name


def reads(source: str, path: str, reader_names: Iterable[str]) -> list[Read]:
    """Every read in SOURCE (the text of PATH, relative to the project's root)."""
    names = frozenset(reader_names)
    tree = ast.parse(source, filename=path)
    lines = source.splitlines()
    found = []
    for statement, parents in _statements(tree):
        for node in _own_nodes(statement):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in names
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                continue
            found.append(
                Read(
                    variable=node.args[0].value,
                    reader=node.func.id,
                    path=path,
                    line=node.lineno,
                    default=_default(node, statement, source),
                    meaning=_comment_above(lines, node.lineno)
                    or _comment_above(lines, statement.lineno)
                    or _docstring_of_sole_statement(statement, parents),
                )
            )
    return found


def variables(all_reads: Iterable[Read]) -> list[Variable]:
    """One Variable per name, in the order of the page, from every read of it."""
    by_name: dict[str, list[Read]] = {}
    for read in sorted(all_reads, key=_place_order):
        by_name.setdefault(read.variable, []).append(read)
    return [_variable(name, places) for name, places in by_name.items()]


def page(documented: Iterable[Variable]) -> str:
    """docs/configuration.md's text."""
    parts = [_header()]
    documented = list(documented)
    for section in SECTIONS:
        rows = [variable for variable in documented if variable.section == section]
        if not rows:
            continue
        parts.append(f"\n## {section}\n\n| variable | default | meaning | read in |\n")
        parts.append("| --- | --- | --- | --- |\n")
        parts.extend(_row(variable) for variable in rows)
    return "".join(parts)


def project_variables(root: Path = PROJECT_ROOT) -> list[Variable]:
    """Every variable the project's code reads, as it is on disk."""
    names = readers()
    return variables(
        read
        for path in service_sources(root)
        for read in reads(
            path.read_text(encoding="utf-8"), path.relative_to(root).as_posix(), names
        )
    )


def _statements(tree: ast.AST) -> Iterator[tuple[ast.stmt, list[ast.AST]]]:
    """Every statement, with the nodes that enclose it, outermost first."""

    def visit(node: ast.AST, parents: list[ast.AST]) -> Iterator[tuple[ast.stmt, list[ast.AST]]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                yield child, parents
            yield from visit(child, [*parents, child])

    return visit(tree, [tree])


def _own_nodes(statement: ast.stmt) -> Iterator[ast.AST]:
    """The nodes of STATEMENT's own expressions, not those of statements nested in it."""
    pending: list[ast.AST] = [statement]
    while pending:
        node = pending.pop()
        yield node
        pending.extend(
            child for child in ast.iter_child_nodes(node) if not isinstance(child, ast.stmt)
        )


def _default(call: ast.Call, statement: ast.stmt, source: str) -> str | None:
    if len(call.args) > 1:
        return ast.get_source_segment(source, call.args[1])
    for node in ast.walk(statement):
        if (
            isinstance(node, ast.BoolOp)
            and isinstance(node.op, ast.Or)
            and node.values[0] is call
            and isinstance(fallback := node.values[1], ast.Constant)
            and isinstance(fallback.value, str)
        ):
            return ast.get_source_segment(source, fallback)
    return None


def _comment_above(lines: list[str], line: int) -> str:
    """The `#` lines directly above LINE (1-based), as one sentence's worth of text."""
    block: list[str] = []
    index = line - 2
    while index >= 0 and lines[index].lstrip().startswith("#"):
        block.insert(0, lines[index].lstrip().removeprefix("#").strip())
        index -= 1
    return " ".join(text for text in block if text)


def _docstring_of_sole_statement(statement: ast.stmt, parents: list[ast.AST]) -> str:
    """A one-statement function's docstring, which says what that statement reads."""
    function = parents[-1]
    if not isinstance(function, ast.FunctionDef):
        return ""
    docstring = ast.get_docstring(function)
    if docstring is None or function.body[1:] != [statement]:
        return ""
    return " ".join(docstring.split())


def _variable(name: str, places: list[Read]) -> Variable:
    defaults = {read.default: read for read in places if read.default is not None}
    if len(defaults) > 1:
        first, second = defaults.values()
        raise ConfigurationReferenceError(
            f"{name} is read with the default {first.default} in {first.path} but "
            f"{second.default} in {second.path}; give every read of it the same default."
        )
    described = [read for read in places if read.meaning]
    if not described:
        raise ConfigurationReferenceError(
            f"{name}, read in {places[0].path}, has no comment directly above the line "
            f"that reads it; write one saying what it does and why."
        )
    readers_used = {read.reader for read in places}
    if len(readers_used) > 1:
        raise ConfigurationReferenceError(
            f"{name} is read by {' and '.join(sorted(readers_used))} in "
            f"{', '.join(sorted({read.path for read in places}))}; read it as one kind of value."
        )
    return Variable(
        name=name,
        reader=places[0].reader,
        default=next(iter(defaults), None),
        meaning=described[0].meaning,
        section=_section(places[0]),
        places=tuple(dict.fromkeys(read.path for read in places)),
    )


def _place_order(read: Read) -> tuple[int, str, int]:
    """Section, then file, then line: a variable is listed where it is first read in that order."""
    return SECTIONS.index(_section(read)), read.path, read.line


def _section(read: Read) -> str:
    for folder, section in SECTION_OF_FOLDER.items():
        if read.path.startswith(folder):
            return section
    if read.path == "gunicorn.conf.py":
        return GUNICORN
    for prefix, section in SECTION_OF_PREFIX.items():
        if read.variable.startswith(prefix):
            return section
    return DJANGO


def _shown_default(variable: Variable) -> str:
    if variable.default is None:
        if variable.reader == "env_secret":
            return f"unset (or `{variable.name}_FILE`)"
        return "unset"
    value = variable.default_value
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list):
        return f"`{','.join(value)}`" if value else "empty"
    if value == "":
        return "empty"
    if variable.reader in SECONDS_READERS:
        return f"`{variable.default}` seconds"
    return f"`{value}`"


def _row(variable: Variable) -> str:
    cells = (
        f"`{variable.name}`",
        _shown_default(variable),
        variable.meaning,
        ", ".join(f"`{place}`" for place in variable.places),
    )
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |\n"


def _header() -> str:
    true, false = (
        ", ".join(f"`{word}`" for word in sorted(words)) for words in (env._TRUE, env._FALSE)
    )
    return (
        "# Configuration reference\n\n"
        "Generated by `make docs` from the code that reads each variable "
        "(`tools/configuration_reference.py`); do not edit it by hand: change the comment "
        "above the line that reads the variable, then run `make docs`.\n\n"
        "Every variable is read through `visits_project/env.py`; an empty value counts as "
        f"unset. Booleans take {true} for true, {false} for false. A value of the wrong "
        "kind stops `manage.py` or gunicorn (status 1) with one line naming the variable "
        "and what it expects.\n\n"
        'A secret (its default reads "or `NAME_FILE`") may instead come from the file that '
        "`NAME_FILE` names, e.g. `DB_PASS_FILE=/run/secrets/db_password`, as Docker and "
        "Kubernetes secrets do; trailing newlines are dropped, and setting both forms stops "
        "start-up.\n"
    )


def main() -> None:
    try:
        sys.stdout.write(page(project_variables()))
    except ConfigurationReferenceError as error:
        sys.exit(str(error))


if __name__ == "__main__":
    main()

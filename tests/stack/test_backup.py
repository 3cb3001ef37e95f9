"""
docker/backup and docker/restore: a backup taken while page views flow, restored
on a stack started anew, gives a page whose two numbers agree and go on from
the backup's; what is not a complete backup, or a database that holds
accesses, is refused.
"""

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.stack.docker_cli import PageViews, Stack, counts, docker, running_stack
from tests.support.servers import PROJECT_ROOT

PREFIX = "visits-test-backup"
WROTE = re.compile(
    r"Wrote (?P<file>.+) \((?P<size>[0-9.]+ ?[KMG]?i?B)\) in (?P<seconds>\d+\.\d{3}) s\."
)
NOT_A_BACKUP = (
    "error: {file} is not a complete backup (pg_restore cannot read it through to its end), "
    "so nothing was changed; restore a file that docker/backup wrote in full."
)
HOLDS_ACCESSES = (
    "error: the database of visits-test-backup-db holds {rows} accesses already, so nothing "
    "was changed; add --force to replace them with the backup's."
)
DUMP_FAILED = (
    "error: pg_dump failed in visits-test-backup-db (its message is above), so no backup was "
    "written; fix what it says and run this again."
)
RESTORED = "Restored {rows} accesses from {file} and set the visit counter to that number."


def run_script(stack: Stack, name: str, *arguments: str) -> subprocess.CompletedProcess:
    """docker/NAME for the stack, to its end, whatever its exit status."""
    return subprocess.run(
        [PROJECT_ROOT / "docker" / name, *arguments],
        env={**os.environ, "VISITS_PREFIX": stack.prefix, "VISITS_PORT": str(stack.port)},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def rows_in(stack: Stack, backup: Path) -> int:
    """The accesses in BACKUP, read from the archive itself (its COPY block's lines)."""
    with backup.open("rb") as archive:
        script = subprocess.run(
            ["docker", "exec", "--interactive", "--user", "postgres", stack.db,
             "pg_restore", "--data-only", "--table=visits_access", "--file=-"],
            stdin=archive, capture_output=True, text=True, check=True, timeout=120,
        ).stdout  # fmt: skip
    lines = script.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("COPY public.visits_access"))
    return lines.index("\\.", start) - start - 1


@pytest.fixture(scope="module")
def backup_stack():
    with running_stack(PREFIX) as running:
        yield running


@pytest.fixture(scope="module")
def backup(backup_stack, tmp_path_factory) -> tuple[Path, int, str]:
    """A backup taken while 4 clients view the page: (file, its accesses, docker/backup's line)."""
    for _ in range(50):
        counts(backup_stack)
    file = tmp_path_factory.mktemp("backups") / "under-traffic.dump"
    with PageViews(backup_stack.port) as views:
        before = len(views.statuses)
        result = run_script(backup_stack, "backup", str(file))
        after = len(views.statuses)
    statuses = views.statuses

    assert result.returncode == 0, result.stdout + result.stderr
    assert set(statuses) == {200}
    assert after > before  # and while it ran
    rows = rows_in(backup_stack, file)
    assert 50 + 20 <= rows <= 50 + len(statuses)
    print(f"\nbackup of {rows} accesses: {result.stdout.strip()}")
    return file, rows, result.stdout


def test_backup_prints_the_file_its_size_and_time_and_leaves_no_partial_file(backup):
    file, _, output = backup

    match = WROTE.fullmatch(output.strip())

    assert match, output
    assert match["file"] == str(file)
    assert sorted(path.name for path in file.parent.iterdir()) == [file.name]


def test_backup_without_file_writes_into_backups_named_after_prefix_and_time(backup_stack):
    result = run_script(backup_stack, "backup")

    match = WROTE.fullmatch(result.stdout.strip())
    assert match, result.stdout + result.stderr
    written = Path(match["file"])
    try:
        assert result.returncode == 0
        assert written.parent == PROJECT_ROOT / "backups"
        assert re.fullmatch(rf"{PREFIX}-\d{{8}}T\d{{6}}Z\.dump", written.name)
        assert written.stat().st_size > 0
    finally:
        written.unlink()


def test_backup_that_fails_leaves_no_file(backup_stack, tmp_path):
    def allow_connections(allow: bool) -> None:
        docker(
            "exec", "--user", "postgres", backup_stack.db, "psql", "--dbname=postgres",
            "--command", f"ALTER DATABASE visits ALLOW_CONNECTIONS {str(allow).lower()}",
        )  # fmt: skip

    allow_connections(False)  # pg_dump's connection is refused, the superuser's too
    try:
        result = run_script(backup_stack, "backup", str(tmp_path / "failed.dump"))
    finally:
        allow_connections(True)

    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == DUMP_FAILED
    assert list(tmp_path.iterdir()) == []


def test_restore_on_a_stack_started_anew_continues_the_counts_from_the_backup(backup_stack, backup):
    file, rows, _ = backup
    backup_stack.down(volumes=True)
    backup_stack.up()

    result = run_script(backup_stack, "restore", str(file))
    views = [counts(backup_stack) for _ in range(100)]
    print(f"\n{result.stdout}")

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == RESTORED.format(rows=rows, file=file)
    assert f"Set the visit counter from 0 to {rows}, the number of access records." in (
        result.stdout
    )
    assert views == [(rows + n, rows + n) for n in range(1, 101)]


@pytest.mark.parametrize("kind", ["truncated", "garbage"])
def test_restore_refuses_what_is_not_a_complete_backup_and_changes_nothing(
    backup_stack, backup, tmp_path, kind
):
    whole = backup[0].read_bytes()
    file = tmp_path / f"{kind}.dump"
    file.write_bytes(whole[: len(whole) // 2] if kind == "truncated" else os.urandom(len(whole)))
    accesses, visits = counts(backup_stack)

    result = run_script(backup_stack, "restore", str(file), "--force")

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == NOT_A_BACKUP.format(file=file) + "\n"
    assert counts(backup_stack) == (accesses + 1, visits + 1)


def test_restore_over_a_database_with_accesses_is_refused_without_force(backup_stack, backup):
    accesses, visits = counts(backup_stack)

    result = run_script(backup_stack, "restore", str(backup[0]))

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == HOLDS_ACCESSES.format(rows=accesses) + "\n"
    assert counts(backup_stack) == (accesses + 1, visits + 1)


def test_restore_with_force_over_a_higher_counter_sets_it_to_the_restored_rows(
    backup_stack, backup
):
    file, rows, _ = backup
    for _ in range(20):
        accesses, visits = counts(backup_stack)
    assert min(accesses, visits) > rows

    result = run_script(backup_stack, "restore", str(file), "--force")
    views = [counts(backup_stack) for _ in range(100)]

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == RESTORED.format(rows=rows, file=file)
    assert f"Set the visit counter from {visits} to {rows}, the number" in result.stdout
    assert views == [(rows + n, rows + n) for n in range(1, 101)]
    assert docker("exec", backup_stack.web, "python", "manage.py", "recount_accesses") == (
        f"The access counts are exact: {rows + 100} records."
    )

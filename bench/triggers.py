"""
What the access count's triggers cost PostgreSQL: pgbench sends the page's own
statement (bench/headroom_insert.sql, prepared, in autocommit) with the trigger as
migrated, without its hourly half, with one slot instead of ACCESS_COUNT_SLOTS,
and with no trigger at all; the variants take turns, --rounds times each, and the
medians are printed. Each variant replaces the trigger function in the scratch
database only.

Usage: python -m bench.triggers [--rounds 3] [--seconds 5] [--clients 8]
"""

import argparse
import os
import re
import statistics
import subprocess
import sys

from bench.headroom import INSERT_SCRIPT
from bench.servers import Scratch, own_servers

_INSTALLED = "SELECT pg_get_functiondef('visits_access_count_inserted'::regproc)"
_FUNCTION = """
CREATE OR REPLACE FUNCTION visits_access_count_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO visits_accesscount AS counted (slot, count)
    SELECT {slot}, count(*) FROM inserted_rows
    ON CONFLICT (slot) DO UPDATE SET count = counted.count + EXCLUDED.count;
    RETURN NULL;
END $$
"""
_ENABLE = "ALTER TABLE visits_access {} TRIGGER visits_access_count_insert"


def variants(installed: str) -> dict[str, list[str]]:
    """Each variant's SQL; INSTALLED is the function as the migrations left it."""
    slots = re.search(r"mod\(pg_backend_pid\(\), \d+\)", installed)[0]
    return {
        "as migrated": [installed, _ENABLE.format("ENABLE")],
        "without the hourly counts": [
            _FUNCTION.format(slot=slots),
            _ENABLE.format("ENABLE"),
        ],
        "one slot, without the hourly counts": [
            _FUNCTION.format(slot="0"),
            _ENABLE.format("ENABLE"),
        ],
        "no trigger": [_ENABLE.format("DISABLE")],
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.triggers", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--database", default="visits_triggers", help="scratch database name")
    arguments = parser.parse_args()
    with own_servers(), Scratch(arguments.database) as scratch:
        sql = variants(scratch.execute(_INSTALLED)[0][0])
        rates: dict[str, list[float]] = {name: [] for name in sql}
        for _ in range(arguments.rounds):
            for name, statements in sql.items():
                for statement in statements:
                    scratch.execute(statement)
                rates[name].append(pgbench(scratch, arguments))
                print(f"{name}: {rates[name][-1]:.0f} statements/s", flush=True)
    print(f"\nMedians of {arguments.rounds} rounds, {arguments.clients} clients:")
    migrated = statistics.median(rates["as migrated"])
    for name, values in rates.items():
        median = statistics.median(values)
        print(f"  {name:<38} {median:7.0f} statements/s  {median / migrated:5.2f}x")
    return 0


def pgbench(scratch: Scratch, arguments) -> float:
    command = [
        "pgbench", "--no-vacuum", "--protocol=prepared",
        f"--client={arguments.clients}", "--jobs=2", f"--time={arguments.seconds}",
        f"--file={INSERT_SCRIPT}", "--host", scratch.server["host"],
        "--port", str(scratch.server["port"]), "--username", scratch.server["user"],
        scratch.name,
    ]  # fmt: skip
    environment = {**os.environ, "PGPASSWORD": scratch.server["password"]}
    output = subprocess.run(
        command, env=environment, capture_output=True, text=True, check=True
    ).stdout
    return float(re.search(r"^tps = ([\d.]+)", output, re.MULTILINE)[1])


if __name__ == "__main__":
    sys.exit(main())

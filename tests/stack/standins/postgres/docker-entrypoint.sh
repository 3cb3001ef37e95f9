#!/usr/bin/env bash
# The postgres image's contract, in small: on an empty $PGDATA, initialise a
# cluster whose superuser ($POSTGRES_USER, default postgres) has the password
# $POSTGRES_PASSWORD (or the content of the file $POSTGRES_PASSWORD_FILE) and
# create $POSTGRES_DB, serving only on the local socket meanwhile; then run the
# server as the postgres user, listening on all addresses with password
# authentication.
# Usage: docker-entrypoint.sh postgres [OPTION...]
set -Eeuo pipefail

# usage: file_env VAR; VAR_FILE names a file holding VAR's value (Docker secrets).
file_env() {
  local variable=$1 file_variable="${1}_FILE"
  if [[ -n "${!variable:-}" && -n "${!file_variable:-}" ]]; then
    echo "error: both $variable and $file_variable are set (but are exclusive)" >&2
    exit 1
  fi
  if [[ -n "${!file_variable:-}" ]]; then
    export "$variable"="$(<"${!file_variable}")"
  fi
}

# Creates the cluster and the database on first start.
initialise() {
  file_env POSTGRES_PASSWORD
  local user=${POSTGRES_USER:-postgres}
  local database=${POSTGRES_DB:-$user}
  if [[ -z "${POSTGRES_PASSWORD:-}" ]]; then
    echo "Error: the database is uninitialised and has no superuser password; run with -e POSTGRES_PASSWORD=..." >&2
    exit 1
  fi
  initdb --username="$user" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
    --auth-local=trust --auth-host=scram-sha-256 -D "$PGDATA"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
  if [[ "$database" != postgres ]]; then
    psql -v ON_ERROR_STOP=1 --username "$user" --dbname postgres \
      --command "CREATE DATABASE \"$database\""
  fi
  pg_ctl -D "$PGDATA" -m fast -w stop
}

main() {
  if [[ "${1:-}" != postgres ]]; then
    exec "$@"
  fi
  if [[ "$(id -u)" == 0 ]]; then
    install --directory --owner postgres --group postgres --mode 700 "$PGDATA"
    # As the official image: the socket folder may be a fresh tmpfs (read-only root).
    install --directory --owner postgres --group postgres --mode 3775 /var/run/postgresql
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
  fi
  if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
    initialise
  fi
  exec "$@"
}

main "$@"

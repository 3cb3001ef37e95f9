# shellcheck shell=bash disable=SC2034  # the names are used by the scripts that source this
# Names and helpers shared by docker/up, docker/down, docker/make-secrets,
# docker/backup and docker/restore; sourced, not run.

: "${VISITS_PREFIX:=visits}"
readonly NETWORK="$VISITS_PREFIX-net"
readonly DB="$VISITS_PREFIX-db" CACHE="$VISITS_PREFIX-cache" WEB="$VISITS_PREFIX-web"
# Holds web's network namespace and published port (see docker/up), and the web
# that replaces the running one, until the handover is done.
readonly WEB_PORT="$VISITS_PREFIX-web-port" WEB_NEXT="$VISITS_PREFIX-web-next"
readonly PGDATA_VOLUME="$VISITS_PREFIX-pgdata" REDISDATA_VOLUME="$VISITS_PREFIX-redisdata"
# Everything the scripts create carries this label; they remove nothing without it.
readonly LABEL="org.visits.stack=$VISITS_PREFIX"
readonly DB_ENV_FILE="$ROOT/docker/$VISITS_PREFIX-db.env"
readonly CACHE_ENV_FILE="$ROOT/docker/$VISITS_PREFIX-cache.env"
readonly WEB_ENV_FILE="$ROOT/docker/$VISITS_PREFIX-web.env"
# How docker/restore runs pg_restore: dropping what the backup holds before
# creating it, all in one transaction that a first error rolls back, keeping the
# owners. tests/test_upgrade.py restores into a newer PostgreSQL with these.
readonly PG_RESTORE_OPTIONS=(--clean --if-exists --exit-on-error --single-transaction)

# Prints a command as it could be pasted into a shell, then runs it.
run() {
  local argument line="+"
  for argument in "$@"; do
    if [[ "$argument" =~ ^[A-Za-z0-9_./:=,@%+-]+$ ]]; then
      line+=" $argument"
    else
      line+=" '${argument//\'/\'\\\'\'}'"
    fi
  done
  echo "$line"
  "$@"
}

# Usage: fail MESSAGE [CONTAINER]; shows the container's last log lines.
fail() {
  echo "error: $1" >&2
  if [[ -n "${2:-}" ]]; then
    echo "Last log lines of $2:" >&2
    docker logs --tail 30 "$2" >&2 || true
  fi
  exit 1
}

# Usage: step DESCRIPTION COMMAND...; any command failing inside names the step.
step() {
  CURRENT_STEP=$1
  shift
  "$@"
  CURRENT_STEP=""
}

CURRENT_STEP=""
report_failed_step() {
  if [[ -n "$CURRENT_STEP" ]]; then
    echo "error: could not $CURRENT_STEP" >&2
  fi
}
# With set -E in the scripts, the trap also fires inside functions.
trap report_failed_step ERR

# Usage: random_token LENGTH; letters and digits only, safe in env files.
random_token() {
  local token=""
  while ((${#token} < $1)); do
    token+=$(head -c 64 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
  done
  printf '%s' "${token:0:$1}"
}

# Prints running, exited, created… or missing.
container_state() {
  local state
  if state=$(docker inspect --format '{{.State.Status}}' "$1" 2>/dev/null); then
    echo "$state"
  else
    echo missing
  fi
}

# Stops when a container of ours by name was not made by these scripts.
refuse_foreign_containers() {
  local name owner
  for name in "$DB" "$CACHE" "$WEB" "$WEB_NEXT" "$WEB_PORT"; do
    if [[ "$(container_state "$name")" == missing ]]; then
      continue
    fi
    owner=$(docker inspect --format '{{index .Config.Labels "org.visits.stack"}}' "$name")
    if [[ "$owner" != "$VISITS_PREFIX" ]]; then
      fail "a container named $name exists that docker/up did not create; remove or rename it, or choose other names with VISITS_PREFIX=..."
    fi
  done
}

#!/usr/bin/env bash
# The redis image's contract, in small: flags alone run redis-server with them;
# the server runs as the redis user, owns /data, and without a config file
# accepts connections from other containers (protected mode off).
# Usage: docker-entrypoint.sh [redis-server] [FLAG...]
set -Eeuo pipefail

main() {
  if [[ "${1:-}" == -* ]]; then
    set -- redis-server "$@"
  fi
  if [[ "${1:-}" == redis-server && "$(id -u)" == 0 ]]; then
    chown -R redis:redis .
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
  fi
  if [[ "${1:-}" == redis-server && "${2:-}" != *.conf ]]; then
    set -- "$@" --protected-mode no
  fi
  exec "$@"
}

main "$@"

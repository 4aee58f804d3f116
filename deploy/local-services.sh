#!/usr/bin/env bash
# Make sure the local PostgreSQL, RabbitMQ and Redis answer: start any that is down, and
# install (Debian packages) or run (docker compose) any that is missing. See
# deploy/local_services.py; `--plan` says what it would do.
set -euo pipefail
exec python3 "$(dirname "$0")/local_services.py" "$@"

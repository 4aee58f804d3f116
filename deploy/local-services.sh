#!/usr/bin/env bash
# Make sure the local PostgreSQL, RabbitMQ and Redis answer; start any that do not.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  local name=$1 port=$2
  for _ in $(seq 1 60); do
    if port_open "$port"; then echo "$name: up on $port"; return 0; fi
    sleep 1
  done
  echo "$name: not answering on $port" >&2
  return 1
}

if ! port_open 5432; then
  echo "postgres: starting"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
fi
wait_port postgres 5432

if ! port_open 5672; then
  echo "rabbitmq: starting"
  rabbitmq-server -detached
fi
wait_port rabbitmq 5672
# The port opens before the node finishes booting; wait until it takes commands.
for _ in $(seq 1 60); do
  if rabbitmqctl -q status >/dev/null 2>&1; then break; fi
  sleep 1
done

if ! port_open 6379; then
  echo "redis: starting"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
fi
wait_port redis 6379

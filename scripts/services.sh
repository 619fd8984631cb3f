#!/usr/bin/env bash
# Makes sure PostgreSQL and RabbitMQ answer on 127.0.0.1 (5432, 5672) for the service and its tests:
# leaves running ones alone; otherwise installs the Debian packages when missing and starts them, then
# waits (with a deadline) until they answer. Source it to get CERTSCAN_TEST_DATABASE_URL exported when
# a PostgreSQL it set up needs a password. Run as root (or with sudo available).
set -euo pipefail

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { # name port seconds
  local deadline=$((SECONDS + $3))
  until port_open "$2"; do
    if [ "$SECONDS" -ge "$deadline" ]; then echo "services: $1 did not start on port $2 within $3 s" >&2; return 1; fi
    sleep 1
  done
}
install_missing() {
  local missing=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "services: installing ${missing[*]}"
    sudo_if_needed apt-get update -qq
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

if ! port_open 5432; then
  install_missing postgresql
  echo "services: starting PostgreSQL"
  for version in /etc/postgresql/*; do
    sudo_if_needed pg_ctlcluster --skip-systemctl-redirect "$(basename "$version")" main start || true
  done
  wait_port PostgreSQL 5432 60
fi
# These machines trust local TCP connections; a stock Debian PostgreSQL wants a password instead.
if command -v psql >/dev/null && ! psql -w -h 127.0.0.1 -U postgres -d postgres -c 'SELECT 1' >/dev/null 2>&1; then
  if [ -z "${CERTSCAN_TEST_DATABASE_URL:-}" ]; then
    echo "services: PostgreSQL asks for a password; setting one for the postgres user for the tests"
    sudo_if_needed su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'certscan'\"" >/dev/null
    export CERTSCAN_TEST_DATABASE_URL="postgres://postgres:certscan@127.0.0.1:5432/postgres"
  fi
fi

if ! port_open 5672; then
  install_missing rabbitmq-server
  echo "services: starting RabbitMQ"
  sudo_if_needed rabbitmq-server -detached || true
  wait_port RabbitMQ 5672 120
fi
echo "services: PostgreSQL and RabbitMQ answer"

#!/usr/bin/env bash
# Make the machine's PostgreSQL ready for change data capture, idempotently: logical decoding needs
# wal_level=logical, which only takes effect after a restart, so the restart happens only when the
# setting actually changes (a second run is a no-op and never interrupts other clients).
set -euo pipefail

PGHOST="${FEEDBACKLOOP_PGHOST:-127.0.0.1}"
PGPORT="${FEEDBACKLOOP_PGPORT:-5432}"
PGUSER="${FEEDBACKLOOP_PGUSER:-postgres}"
psql_() { psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -Atqc "$1"; }

cluster_version() { ls /etc/postgresql | sort -V | tail -1; }

wait_ready() {
  for _ in $(seq 1 60); do
    pg_isready -h "$PGHOST" -p "$PGPORT" -q && return 0
    sleep 0.5
  done
  echo "postgres_logical: PostgreSQL on $PGHOST:$PGPORT did not come up" >&2
  return 1
}

if ! pg_isready -h "$PGHOST" -p "$PGPORT" -q; then
  pg_ctlcluster --skip-systemctl-redirect "$(cluster_version)" main start
  wait_ready
fi

if [ "$(psql_ 'show wal_level')" != "logical" ]; then
  psql_ "alter system set wal_level = logical"
  echo "postgres_logical: wal_level -> logical; restarting PostgreSQL $(cluster_version)/main once"
  pg_ctlcluster --skip-systemctl-redirect "$(cluster_version)" main restart
  wait_ready
fi
echo "postgres_logical: wal_level=$(psql_ 'show wal_level'), replication slots=$(psql_ 'show max_replication_slots')"

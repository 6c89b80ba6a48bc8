# Sourced by scripts/test.sh: starts a throwaway PostgreSQL cluster on a free local port for the
# collector's tests and removes it on exit. Installs Debian's postgresql if it is missing.
# Sets DPSEG_TEST_POSTGRES_URL.

pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  done
}

if [ -z "$(pg_bin)" ]; then
  echo "==> installing PostgreSQL (Debian's postgresql package)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi
PG_BIN=$(pg_bin)
PG_DIR=$(mktemp -d /tmp/dpseg-pg.XXXXXX)
PG_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# initdb and postgres refuse to run as root: run them as the postgres user when we are root.
if [ "$(id -u)" = 0 ]; then
  chown postgres "$PG_DIR"
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi
as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U dpseg --auth=trust -E UTF8 >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
  -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=on" start >/dev/null
stop_postgres() {
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}
trap stop_postgres EXIT
export DPSEG_TEST_POSTGRES_URL="postgres://dpseg@127.0.0.1:$PG_PORT/postgres"
# The binaries, for tests that run a cluster of their own (crashing it must not hit the others).
export DPSEG_TEST_PG_BIN="$PG_BIN"
echo "==> PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on port $PG_PORT (removed on exit)"

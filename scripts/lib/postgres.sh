# shellcheck shell=bash
# A private PostgreSQL server for the tests: a fresh cluster in a temp dir, on 127.0.0.1 and
# a free port from 54329 up, its socket in that dir. Only the cluster started here is stopped.
#
# Each test database is dropped WITH (FORCE), which terminates whatever is still connected to it.
# A backend of another role (an autovacuum worker, say) makes that fail with "must be a member
# of the role whose process is being terminated", so autovacuum is off in this throwaway
# cluster and the test role may signal backends (pg_signal_backend).
#
# After start_test_postgres: COURTYARD_TEST_POSTGRES_URL is exported and stop_test_postgres
# (called from the caller's EXIT trap) stops the server and removes the dir.

PG_DIR=""
PG_RUN_AS=()
PG_BIN=""

pg_bin_dir() {
  local dir
  dir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null \
    | sort -V | tail -n 1)
  [[ -n $dir && -x $dir/pg_ctl ]] || return 1
  echo "$dir"
}

# Print the first port from 54329 up that nobody listens on at 127.0.0.1.
pg_free_port() {
  "$1" - <<'PY'
import socket
for port in range(54329, 54429):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        print(port)
        break
else:
    raise SystemExit("no free port in 54329-54428")
PY
}

pg_as_owner() {
  "${PG_RUN_AS[@]}" "$@"
}

# $1: a python to find a free port with. Exports COURTYARD_TEST_POSTGRES_URL.
start_test_postgres() {
  local py=$1 bin port password
  if ! bin=$(pg_bin_dir); then
    warn "PostgreSQL is not installed: the PostgreSQL tests will skip (or fail with CI=true)"
    return 0
  fi
  PG_DIR=$(mktemp -d /tmp/courtyard-pg.XXXXXX)
  if is_root; then
    chown postgres: "$PG_DIR"
    PG_RUN_AS=(runuser -u postgres --)
  fi
  port=$(pg_free_port "$py") || die "no free port for PostgreSQL"
  password=$("$py" -c 'import secrets; print(secrets.token_hex(16))')
  pg_as_owner "$bin/initdb" --no-sync -D "$PG_DIR/data" -U postgres -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >"$PG_DIR/initdb.log" 2>&1 \
    || { cat "$PG_DIR/initdb.log" >&2; die "initdb failed"; }
  pg_as_owner "$bin/pg_ctl" start -w -t 60 -D "$PG_DIR/data" -l "$PG_DIR/server.log" \
    -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c autovacuum=off" \
    >/dev/null || { cat "$PG_DIR/server.log" >&2; die "PostgreSQL did not start"; }
  pg_as_owner "$bin/psql" -q -h "$PG_DIR" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
    -c "CREATE ROLE courtyard LOGIN CREATEDB PASSWORD '$password'" \
    -c "GRANT pg_signal_backend TO courtyard" \
    -c "CREATE DATABASE courtyard_test OWNER courtyard" >/dev/null \
    || die "could not create the PostgreSQL test role and database"
  PG_BIN=$bin
  export COURTYARD_TEST_POSTGRES_URL="postgresql+psycopg://courtyard:$password@127.0.0.1:$port/courtyard_test"
  say "postgres: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data in $PG_DIR)"
}

stop_test_postgres() {
  [[ -n $PG_DIR && -d $PG_DIR ]] || return 0
  if [[ -f $PG_DIR/data/postmaster.pid ]]; then
    pg_as_owner "$PG_BIN/pg_ctl" stop -m fast -w -t 30 -D "$PG_DIR/data" >/dev/null 2>&1 \
      || warn "could not stop the test PostgreSQL in $PG_DIR"
  fi
  rm -rf "$PG_DIR"
  PG_DIR=""
}

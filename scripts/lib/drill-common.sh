# Shared by scripts/drill-crash and scripts/drill-restore: build, a fresh database on the chosen
# engine, and starting/stopping `trellis demo` on it. Source it; it defines functions only.

# The release binary (built once; honours CARGO_TARGET_DIR), or $TRELLIS_BIN if set.
build_trellis() {
  if [ -n "${TRELLIS_BIN:-}" ]; then
    trellis="$TRELLIS_BIN"
    return
  fi
  cargo build --release --locked --workspace --bins >&2
  trellis="${CARGO_TARGET_DIR:-target}/release/trellis"
}

# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# new_database ENGINE NAME: prints a database URL for a new, empty database.
# PostgreSQL uses TRELLIS_DRILL_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres)
# as the server to create it on.
new_database() {
  local engine="$1" name="$2"
  case "$engine" in
    sqlite) echo "sqlite://$work/$name.db" ;;
    postgres)
      local admin="${TRELLIS_DRILL_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
      psql -q "$admin" -c "CREATE DATABASE $name" >&2
      created_databases+=("$name")
      echo "${admin%/*}/$name"
      ;;
    *) echo "engine must be sqlite or postgres" >&2; return 2 ;;
  esac
}

# drop_databases: removes the PostgreSQL databases this run created.
drop_databases() {
  local admin="${TRELLIS_DRILL_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
  for name in "${created_databases[@]}"; do
    psql -q "$admin" -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null 2>&1 || true
  done
}

# start_demo URL PORT: starts `trellis demo` on URL in the background (pid in $server) and
# waits until it answers /healthz.
start_demo() {
  local url="$1" port="$2"
  "$trellis" demo --bind "127.0.0.1:$port" --data-dir "$work/data" --database-url "$url" \
    >>"$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 600); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; return 1; }
    sleep 0.2
  done
  echo "server did not start" >&2
  return 1
}

# table_count URL TABLE: rows in a table, read straight from the database.
table_count() {
  local url="$1" table="$2"
  case "$url" in
    sqlite://*) sqlite3 "${url#sqlite://}" "SELECT COUNT(*) FROM $table" ;;
    *) psql -qtA "$url" -c "SELECT COUNT(*) FROM $table" ;;
  esac
}

# Shared by scripts/load and scripts/soak: oha, the release binary, a demo (or generated
# network) server on SQLite or PostgreSQL, signing in as several roles, and the pages and API
# calls they drive. Source it after setting engine, data, fraction and data_dir; it defines
# functions only.

# ensure_oha: installs oha from crates.io into .tools/ on first use; sets $oha.
ensure_oha() {
  oha=".tools/bin/oha"
  if [ ! -x "$oha" ]; then
    echo "installing oha into .tools/ …" >&2
    cargo install --locked oha --root .tools >&2
  fi
}

# ensure_trellis: the release binary (honours CARGO_TARGET_DIR), or $TRELLIS_BIN; sets $trellis.
ensure_trellis() {
  if [ -n "${TRELLIS_BIN:-}" ]; then
    trellis="$TRELLIS_BIN" # a binary built elsewhere (figures only mean something for release)
  else
    cargo build --release --locked --bin trellis >&2
    trellis="${CARGO_TARGET_DIR:-target}/release/trellis"
  fi
}

# prepare_database: makes $data_dir (a temporary one when empty; $temporary says which) and sets
# $url. PostgreSQL runs use TRELLIS_LOAD_POSTGRES_URL (default
# postgres://postgres@127.0.0.1:5432/postgres) to create the database trellis_load_<data>.
prepare_database() {
  if [ -z "$data_dir" ]; then
    data_dir="$(mktemp -d)"
    temporary=1
  else
    mkdir -p "$data_dir"
    temporary=0
  fi
  case "$engine" in
    sqlite) url="sqlite://$data_dir/trellis.db" ;;
    postgres)
      admin="${TRELLIS_LOAD_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
      pg_name="trellis_load_$data"
      if [ "$temporary" = 1 ]; then psql -q "$admin" -c "DROP DATABASE IF EXISTS $pg_name WITH (FORCE)"; fi
      psql -qtA "$admin" -c "SELECT 1 FROM pg_database WHERE datname = '$pg_name'" | grep -q 1 ||
        psql -q "$admin" -c "CREATE DATABASE $pg_name"
      url="${admin%/*}/$pg_name"
      ;;
  esac
}

# start_server: starts `trellis demo` on $url (generating the network on first use), sets
# $server (pid) and $base, and waits for /healthz.
start_server() {
  local scale=clinic port started
  [ "$data" = network ] && scale=network
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  base="http://127.0.0.1:$port"
  started=$(date +%s)
  "$trellis" demo --bind "127.0.0.1:$port" --data-dir "$data_dir" --database-url "$url" \
    --scale "$scale" --fraction "$fraction" >>"$data_dir/server.log" 2>&1 &
  server=$!
  until curl -fs "$base/healthz" >/dev/null 2>&1; do
    kill -0 "$server" 2>/dev/null || { tail -20 "$data_dir/server.log" >&2; exit 1; }
    sleep 1
  done
  echo "server ready after $(($(date +%s) - started)) s" >&2
}

# stop_server: stops the server and removes a temporary data set.
stop_server() {
  [ -n "${server:-}" ] && kill "$server" 2>/dev/null || true
  if [ "$temporary" = 1 ]; then
    rm -rf "$data_dir"
    [ "$engine" = postgres ] && psql -q "$admin" -c "DROP DATABASE IF EXISTS $pg_name WITH (FORCE)" >/dev/null 2>&1
  fi
  true
}

# sign_in USERNAME: prints the session cookie header value.
sign_in() {
  local jar="$data_dir/jar.$1" csrf
  csrf="$(curl -fs -c "$jar" "$base/login" | sed -n 's/.*name="csrf_token" value="\([0-9a-f]*\)".*/\1/p' | head -1)"
  curl -fs -b "$jar" -c "$jar" -H "Origin: $base" -o /dev/null \
    --data-urlencode "csrf_token=$csrf" --data-urlencode "username=$1" \
    --data-urlencode "password=trellis-demo-2026" "$base/login"
  awk '$6 == "trellis_session" {print "trellis_session=" $7}' "$jar"
}

# make_targets: signs in as a counselor, a front desk, a clinical director (site N03's on the
# network) and the billing user,
# makes a counselor API token, and fills $targets with "label|auth|path" (auth is C:cookie,
# B:token, or - for none).
make_targets() {
  local counselor frontdesk director billing api_user token patient prefix=""
  [ "$data" = network ] && prefix="n03."
  if [ "$data" = demo ]; then
    counselor="$(sign_in counselor)"
    api_user=counselor
  else
    counselor="$(sign_in n03.counselor1)"
    api_user=n03.counselor1
  fi
  frontdesk="$(sign_in "${prefix}frontdesk")"
  director="$(sign_in "${prefix}director")"
  billing="$(sign_in billing)" # the generated sites have no billing account; the demo's is network-wide
  for c in "$counselor" "$frontdesk" "$director" "$billing"; do
    [ -n "$c" ] || { echo "a sign-in failed (is the account there? see $data_dir/server.log)" >&2; exit 1; }
  done
  token="$("$trellis" token create --database-url "$url" --master-key-file "$data_dir/master.key" --user "$api_user" --name load 2>/dev/null)"
  patient="$(curl -fs -H "Cookie: $counselor" "$base/patients" | sed -n 's/.*href="\/patients\/\([0-9][0-9]*\)".*/\1/p' | head -1)"
  [ -n "$patient" ] || { echo "the counselor sees no patient" >&2; exit 1; }
  targets=(
    "healthz|-|/healthz"
    "dashboard (counselor)|C:$counselor|/dashboard"
    "patient list (counselor)|C:$counselor|/patients"
    "chart (counselor)|C:$counselor|/patients/$patient"
    "episodes tab|C:$counselor|/patients/$patient/episodes"
    "measures tab|C:$counselor|/patients/$patient/measures"
    "schedule tab|C:$counselor|/patients/$patient/schedule"
    "my day (counselor)|C:$counselor|/schedule/my-day"
    "dashboard (front desk)|C:$frontdesk|/dashboard"
    "day sheet (front desk)|C:$frontdesk|/schedule/day-sheet"
    "dashboard (director)|C:$director|/dashboard"
    "weekly hours (director)|C:$director|/schedule/hours"
    "patient list (director)|C:$director|/patients"
    "dashboard (billing)|C:$billing|/dashboard"
    "API patients|B:$token|/api/v1/patients"
    "API episodes|B:$token|/api/v1/patients/$patient/episodes"
    "API measures|B:$token|/api/v1/patients/$patient/measures"
  )
}

# auth_header AUTH: prints oha's header arguments for an auth field, one per line.
auth_header() {
  case "$1" in
    C:*) printf '%s\n' -H "Cookie: ${1#C:}" ;;
    B:*) printf '%s\n' -H "Authorization: Bearer ${1#B:}" ;;
  esac
}

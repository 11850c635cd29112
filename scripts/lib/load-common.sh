# Shared by scripts/load and scripts/soak: oha, the release binary, a demo (or generated
# network) server on SQLite or PostgreSQL, signing in as several roles, and the pages and API
# calls they drive. Source it after setting engine, data, fraction, data_dir and pg_database; it
# defines functions only.

# The oha release the harness reads the JSON report of (its layout changes between releases).
OHA_VERSION=1.16.0

# ensure_oha: $OHA, else oha on the PATH, else installs oha from crates.io into .tools/ on first
# use; sets $oha.
ensure_oha() {
  if [ -n "${OHA:-}" ]; then
    oha="$OHA"
  elif command -v oha >/dev/null 2>&1; then
    oha="$(command -v oha)"
  else
    oha=".tools/bin/oha"
    if [ ! -x "$oha" ]; then
      echo "installing oha $OHA_VERSION into .tools/ …" >&2
      cargo install --locked oha --version "$OHA_VERSION" --root .tools >&2
    fi
  fi
}

# ensure_trellis: $TRELLIS_BIN, else the release binary (honours CARGO_TARGET_DIR; built with
# the whole workspace's features, as every other build here, so nothing recompiles twice); sets
# $trellis.
ensure_trellis() {
  if [ -n "${TRELLIS_BIN:-}" ]; then
    trellis="$TRELLIS_BIN" # a binary built elsewhere (figures only mean something for release)
  else
    cargo build --release --locked --workspace --bins >&2
    trellis="${CARGO_TARGET_DIR:-target}/release/trellis"
  fi
}

# prepare_database: makes $data_dir (a temporary one when empty; $temporary says which) and sets
# $url. PostgreSQL runs use TRELLIS_LOAD_POSTGRES_URL (default
# postgres://postgres@127.0.0.1:5432/postgres) to create the database $pg_database (default
# trellis_load_<data>).
prepare_database() {
  if [ -z "$data_dir" ]; then
    data_dir="$(mktemp -d)"
    temporary=1
  else
    mkdir -p "$data_dir"
    data_dir="$(cd "$data_dir" && pwd)"
    temporary=0
  fi
  case "$engine" in
    sqlite) url="sqlite://$data_dir/trellis.db" ;;
    postgres)
      admin="${TRELLIS_LOAD_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
      pg_name="${pg_database:-trellis_load_$data}"
      if [ "$temporary" = 1 ]; then psql -q "$admin" -c "DROP DATABASE IF EXISTS $pg_name WITH (FORCE)"; fi
      psql -qtA "$admin" -c "SELECT 1 FROM pg_database WHERE datname = '$pg_name'" | grep -q 1 ||
        psql -q "$admin" -c "CREATE DATABASE $pg_name"
      url="${admin%/*}/$pg_name"
      ;;
  esac
  # A kept data set says what it holds: its own size wins over --fraction.
  if [ -s "$data_dir/data-set" ]; then
    read -r kept_data kept_fraction <"$data_dir/data-set"
    if [ "$kept_data" != "$data" ]; then
      echo "$data_dir holds the $kept_data data set, not $data" >&2
      exit 2
    fi
    fraction="$kept_fraction"
  fi
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
  [ -s "$data_dir/data-set" ] || echo "$data $fraction" >"$data_dir/data-set"
  echo "server ready after $(($(date +%s) - started)) s" >&2
}

# stop_server: stops the server and removes a temporary data set.
stop_server() {
  if [ -n "${server:-}" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  if [ "${temporary:-0}" = 1 ]; then
    rm -rf "$data_dir"
    [ "$engine" = postgres ] && psql -q "$admin" -c "DROP DATABASE IF EXISTS $pg_name WITH (FORCE)" >/dev/null 2>&1
  fi
  true
}

# sign_in USERNAME: prints the session cookie header value.
sign_in() {
  local jar="$data_dir/jar.$1" csrf
  rm -f "$jar"
  csrf="$(curl -fs -c "$jar" "$base/login" | sed -n 's/.*name="csrf_token" value="\([0-9a-f]*\)".*/\1/p' | head -1)"
  curl -fs -b "$jar" -c "$jar" -H "Origin: $base" -o /dev/null \
    --data-urlencode "csrf_token=$csrf" --data-urlencode "username=$1" \
    --data-urlencode "password=trellis-demo-2026" "$base/login"
  awk '$6 == "trellis_session" {print "trellis_session=" $7}' "$jar"
}

# make_targets: signs in as a counselor, a front desk, a clinical director, a nurse and an intake
# coordinator (site N03's on the network, the demo's own on the demo) and the billing user, makes
# a counselor API token, picks a patient of the counselor's caseload (an open episode) and the
# staff's site, and fills $targets with "label|auth|path" (auth is C:cookie, B:token, or - for
# none).
make_targets() {
  local counselor frontdesk director nurse intake billing api_user token patient site prefix=""
  if [ "$data" = network ]; then
    prefix="n03."
    api_user=n03.counselor1
  else
    api_user=counselor
  fi
  counselor="$(sign_in "$api_user")"
  frontdesk="$(sign_in "${prefix}frontdesk")"
  director="$(sign_in "${prefix}director")"
  nurse="$(sign_in "${prefix}nurse")"
  intake="$(sign_in "${prefix}intake")"
  billing="$(sign_in billing)" # the generated sites have no billing account; the demo's is network-wide
  for c in "$counselor" "$frontdesk" "$director" "$nurse" "$intake" "$billing"; do
    [ -n "$c" ] || { echo "a sign-in failed (is the account there? see $data_dir/server.log)" >&2; exit 1; }
  done
  token="$("$trellis" token create --database-url "$url" --master-key-file "$data_dir/master.key" --user "$api_user" --name load 2>/dev/null)"
  [ -n "$token" ] || { echo "cannot make an API token for $api_user" >&2; exit 1; }
  # The counselor's first caseload patient: an open episode, as the pages mostly show.
  patient="$(curl -fs -H "Authorization: Bearer $token" "$base/api/v1/dashboard" |
    python3 -c 'import json,sys; c=json.load(sys.stdin).get("caseload") or []; print(c[0]["patient_id"] if c else "")')"
  [ -n "$patient" ] || { echo "the counselor ($api_user) has no caseload" >&2; exit 1; }
  # The site the front desk and director work at: N03 on the network, the demo's first site.
  site="$(curl -fs -H "Authorization: Bearer $token" "$base/api/v1/sites" |
    python3 -c 'import json,sys; s=json.load(sys.stdin); want=sys.argv[1]; print(next((x["id"] for x in s if x["code"]==want), s[0]["id"]))' \
      "$([ "$data" = network ] && echo N03 || echo none)")"
  targets=(
    "healthz|-|/healthz"
    "dashboard (counselor)|C:$counselor|/dashboard"
    "patient list (counselor)|C:$counselor|/patients"
    "chart (counselor)|C:$counselor|/patients/$patient"
    "episodes tab|C:$counselor|/patients/$patient/episodes"
    "notes tab|C:$counselor|/patients/$patient/notes"
    "measures tab|C:$counselor|/patients/$patient/measures"
    "schedule tab|C:$counselor|/patients/$patient/schedule"
    "my day (counselor)|C:$counselor|/schedule/my-day"
    "dashboard (front desk)|C:$frontdesk|/dashboard"
    "day sheet (front desk)|C:$frontdesk|/schedule/day-sheet?site=$site"
    "dashboard (director)|C:$director|/dashboard"
    "weekly hours (director)|C:$director|/schedule/hours?site=$site"
    "patient list (director)|C:$director|/patients"
    "dashboard (nurse)|C:$nurse|/dashboard"
    "dashboard (intake)|C:$intake|/dashboard"
    "dashboard (billing)|C:$billing|/dashboard"
    "API patients|B:$token|/api/v1/patients"
    "API episodes|B:$token|/api/v1/patients/$patient/episodes"
    "API measures|B:$token|/api/v1/patients/$patient/measures"
  )
}

# check_targets: every target must answer 200 (not a redirect to sign-in, not a refusal) as the
# role it is meant for before anything is measured.
check_targets() {
  local t label auth path status header failed=0
  for t in "${targets[@]}"; do
    IFS='|' read -r label auth path <<<"$t"
    mapfile -t header < <(auth_header "$auth")
    status="$(curl -s -o /dev/null -w '%{http_code}' "${header[@]}" "$base$path")"
    if [ "$status" != 200 ]; then
      echo "  $label ($path) answered $status" >&2
      failed=1
    fi
  done
  [ "$failed" = 0 ] || { echo "some targets do not answer 200; see $data_dir/server.log" >&2; exit 1; }
}

# auth_header AUTH: prints curl's and oha's header arguments for an auth field, one per line.
auth_header() {
  case "$1" in
    C:*) printf '%s\n' -H "Cookie: ${1#C:}" ;;
    B:*) printf '%s\n' -H "Authorization: Bearer ${1#B:}" ;;
  esac
}

# count_failures FILE: requests in an oha JSON report not answered with 2xx (other statuses and
# connection errors alike).
count_failures() {
  python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
codes = d.get("statusCodeDistribution", {})
print(sum(v for k, v in codes.items() if not k.startswith("2")) + sum(d.get("errorDistribution", {}).values()))' "$1"
}

#!/usr/bin/env bash
# Runs a command next to a throwaway PostgreSQL server: initdb in a
# temporary directory, the server on 127.0.0.1 on a free port (trust auth,
# default durability settings: fsync and synchronous_commit on), and
# CFR_BENCH_PG / CFR_PG_URL set to its URL for the command; the server and
# its data are removed afterwards. As root, the server runs as the system
# user cfrpg (created if missing): PostgreSQL refuses to run as root.
#
#   scripts/throwaway-pg.sh cargo run --release -p cfr-recorder --example bench 3
set -euo pipefail
bin=$(dirname "$(command -v initdb 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")
[ -x "$bin/postgres" ] || { echo "no PostgreSQL server binaries: apt-get install -y postgresql" >&2; exit 2; }
as=()
dir=$(mktemp -d /tmp/cfr-pg-XXXXXX)
if [ "$(id -u)" = 0 ]; then
  id -u cfrpg >/dev/null 2>&1 || useradd -r -M -d /nonexistent -s /usr/sbin/nologin cfrpg
  chown cfrpg: "$dir"
  as=(runuser -u cfrpg --)
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"${as[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync >/dev/null
"${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
  -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c max_connections=200" start >/dev/null
cleanup() {
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
export CFR_BENCH_PG="postgres://postgres@127.0.0.1:$port/postgres"
export CFR_PG_URL="$CFR_BENCH_PG"
"$@"

#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests and benchmarks: real server binaries from Debian's packages
# (deploy/setup.sh installs them), in a directory of its own, listening on loopback only.
#
#   Tests/postgres/cluster.sh start DIR   initdb + start; prints the database URL (postgres://interlock:…@127.0.0.1:PORT/interlock)
#   Tests/postgres/cluster.sh stop DIR    stops it at once (-m immediate) and removes DIR
#   Tests/postgres/cluster.sh restart DIR restarts it at once (-m immediate), as a crash would
#   Tests/postgres/cluster.sh down DIR    stops it at once (-m immediate) and keeps DIR; 'up DIR' starts it again
#   Tests/postgres/cluster.sh createdb DIR NAME  a new, empty database NAME owned by interlock; prints its URL
#
# As root, the server runs as the 'postgres' account (initdb refuses root).
set -euo pipefail
usage="usage: cluster.sh start|stop|restart|down|up DIR, or cluster.sh createdb DIR NAME"
command="${1:?$usage}"
dir="${2:?$usage}"

bin=""
for candidate in /usr/lib/postgresql/*/bin; do
    [ -x "$candidate/initdb" ] && bin="$candidate"
done
if [ -z "$bin" ] && command -v initdb >/dev/null 2>&1; then bin="$(dirname "$(command -v initdb)")"; fi
[ -n "$bin" ] || { echo "cluster.sh: no PostgreSQL server binaries (initdb); run deploy/setup.sh" >&2; exit 3; }

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$command" in
start)
    mkdir -p "$dir"
    chmod 700 "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
    password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
    printf '%s\n' "$password" > "$dir/password"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir/password"
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
        as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; exit 1; }
    # A free port on loopback, chosen by the kernel.
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
    {
        echo "listen_addresses = '127.0.0.1'"
        echo "port = $port"
        echo "unix_socket_directories = '$dir'"
        echo "max_connections = 200"
        echo "fsync = on"
        echo "synchronous_commit = on"
    } >> "$dir/data/postgresql.conf"
    # Password authentication over TCP, as a real deployment: only the socket in DIR trusts its owner.
    {
        echo "local all postgres trust"
        echo "host all all 127.0.0.1/32 scram-sha-256"
    } > "$dir/data/pg_hba.conf"
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    as_owner "$bin/psql" -h "$dir" -p "$port" -U postgres -d postgres -q -v ON_ERROR_STOP=1 \
        -c "CREATE ROLE interlock LOGIN PASSWORD '$password'" -c "CREATE DATABASE interlock OWNER interlock" >/dev/null
    echo "$port" > "$dir/port"
    echo "postgres://interlock:$password@127.0.0.1:$port/interlock"
    ;;
stop)
    [ -d "$dir/data" ] && as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
createdb)
    name="${3:?$usage}"
    port="$(cat "$dir/port")"
    as_owner "$bin/psql" -h "$dir" -p "$port" -U postgres -d postgres -q -v ON_ERROR_STOP=1 \
        -c "CREATE DATABASE \"$name\" OWNER interlock" >/dev/null
    echo "postgres://interlock:$(cat "$dir/password")@127.0.0.1:$port/$name"
    ;;
restart)
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m immediate -w -t 60 restart >/dev/null
    ;;
down)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
    ;;
up)
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    ;;
*)
    echo "$usage" >&2
    exit 2
    ;;
esac

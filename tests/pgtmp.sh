#!/bin/sh
# tests/pgtmp.sh - a throwaway PostgreSQL server for tests and benchmarks.
#
#   sh tests/pgtmp.sh start DIR OWNER_PID [LIFETIME_S]
#       initdb into DIR/pg/data and start a server that listens only on a
#       Unix socket in DIR/pg (listen_addresses=''), database "kgd", owner
#       role "kgd_admin" (trust on the socket), every other role by
#       password (scram-sha-256). Prints the libpq connection string of the
#       admin ("host=DIR/pg port=... dbname=kgd user=kgd_admin").
#   sh tests/pgtmp.sh stop DIR
#       stop it (immediate), killing the postmaster if pg_ctl cannot, and
#       end its watchdog.
#   sh tests/pgtmp.sh pause DIR / resume DIR
#       a crash and a restart on the same data: an immediate stop, then a
#       start that is retried (a loaded machine may need more than one
#       try at crash recovery) and waits until the socket takes
#       connections; on failure the server log's tail goes to stderr.
#
# Invariant: the server never outlives its user. A watchdog stops it when
# OWNER_PID (the test program) is gone, or after LIFETIME_S (default
# 300) whatever happens, so a crashed or killed test leaves nothing. The
# watchdog lives until `stop` (which leaves DIR/pg/stopped) or until DIR
# is gone - not until the server is: a paused server comes back under the
# same watchdog, and a watchdog never stops a server being resumed.
#
# PostgreSQL refuses to run as root and CI runs as root: then the server
# runs as Debian's `postgres` user (made by the postgresql package), which
# owns DIR/pg; DIR itself is opened to traversal (0711) so it can reach it.
set -eu
# The server must not inherit the caller's descriptors (a test harness's
# pipes would then never see EOF): close everything above stderr.
# (The shell itself reads this script on a descriptor above 9.)
exec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
cmd=${1:?usage: pgtmp.sh start DIR OWNER_PID [LIFETIME_S] | stop DIR}
dir=${2:?usage: pgtmp.sh start DIR OWNER_PID [LIFETIME_S] | stop DIR}
bindir=$(pg_config --bindir 2>/dev/null || true)
[ -x "$bindir/initdb" ] || bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bindir/initdb" ] || { echo "pgtmp: no PostgreSQL server (initdb) found" >&2; exit 1; }
pg=$dir/pg
data=$pg/data

as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

stop() {
	[ -d "$data" ] || return 0
	: >"$pg/stopped" 2>/dev/null || true
	halt
}

# The server down now, as a crash would take it (the data stays).
halt() {
	as_owner "$bindir/pg_ctl" -D "$data" -m immediate -t 10 stop \
		>/dev/null 2>&1 || true
	if [ -f "$data/postmaster.pid" ]; then
		pid=$(head -1 "$data/postmaster.pid" 2>/dev/null || true)
		[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
	fi
	return 0
}

port_of() {
	sed -n 's/^port = //p' "$data/postgresql.conf" | tail -1
}

# Taking connections on the socket (pg_isready), within about 30 s.
ready() {
	i=0
	while [ $i -lt 60 ]; do
		"$bindir/pg_isready" -q -h "$pg" -p "$(port_of)" -d postgres \
			-U kgd_admin -t 5 >/dev/null 2>&1 && return 0
		sleep 0.5
		i=$((i + 1))
	done
	return 1
}

resume() {
	try=1
	while [ $try -le 3 ]; do
		if as_owner "$bindir/pg_ctl" -D "$data" -l "$pg/server.log" -w \
			-t 60 start >>"$pg/ctl.log" 2>&1 && ready; then
			return 0
		fi
		# Still recovering, or a start that gave up: if a postmaster
		# is there, give it time; else start again.
		if as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1 &&
		   ready; then
			return 0
		fi
		try=$((try + 1))
		sleep 1
	done
	echo "pgtmp: the server in $pg did not come back after 3 starts:" >&2
	tail -n 30 "$pg/server.log" "$pg/ctl.log" >&2 2>/dev/null || true
	return 1
}

case $cmd in
stop)
	stop
	exit 0
	;;
pause)
	[ -d "$data" ] || { echo "pgtmp: no server in $pg" >&2; exit 1; }
	halt
	exit 0
	;;
resume)
	[ -d "$data" ] || { echo "pgtmp: no server in $pg" >&2; exit 1; }
	resume
	exit $?
	;;
start) ;;
*) echo "pgtmp: unknown command $cmd" >&2; exit 2 ;;
esac

owner=${3:?usage: pgtmp.sh start DIR OWNER_PID [LIFETIME_S]}
life=${4:-300}
mkdir -p "$pg"
if [ "$(id -u)" -eq 0 ]; then
	chmod 0711 "$dir"
	chown postgres "$pg"
fi
# A port number only names the socket file (.s.PGSQL.<port>); pick one per
# folder so two servers never share a lock file name in /tmp.
port=$(( 20000 + $$ % 30000 ))
as_owner "$bindir/initdb" -D "$data" -U kgd_admin -A trust -E UTF8 \
	--locale=C --no-sync >"$pg/initdb.log" 2>&1 || {
	cat "$pg/initdb.log" >&2; exit 1; }
cat >"$data/pg_hba.conf" <<EOF
local all kgd_admin trust
local all all scram-sha-256
EOF
cat >>"$data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$pg'
port = $port
fsync = ${KGD_PG_FSYNC:-off}
full_page_writes = ${KGD_PG_FSYNC:-off}
max_connections = 40
shared_buffers = 128MB
max_wal_size = 2GB
EOF
as_owner "$bindir/pg_ctl" -D "$data" -l "$pg/server.log" -w -t 30 start \
	>/dev/null 2>&1 || { cat "$pg/server.log" >&2; stop; exit 1; }
# The watchdog, detached from the caller's pipes so tu_run sees EOF. A
# watchdog told to end (a harness's kill of the whole test tree) takes
# the server with it: only SIGKILL can leave one behind.
(
	trap 'stop; exit 0' TERM INT HUP
	end=$(( $(date +%s) + life ))
	while kill -0 "$owner" 2>/dev/null && [ "$(date +%s)" -lt "$end" ] &&
	      [ -d "$data" ] && [ ! -f "$pg/stopped" ]; do
		sleep 1
	done
	[ -f "$pg/stopped" ] || stop
) </dev/null >/dev/null 2>&1 &
"$bindir/psql" -X -q -h "$pg" -p "$port" -U kgd_admin -d postgres \
	-c "CREATE DATABASE kgd" >/dev/null || { stop; exit 1; }
echo "host=$pg port=$port dbname=kgd user=kgd_admin"

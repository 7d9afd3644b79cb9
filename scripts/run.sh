#!/usr/bin/env bash
# run.sh: run loadsvc locally against a development PostgreSQL kept in .local/.
#
#   scripts/run.sh [service flags...]   set up and start PostgreSQL, run the
#                                       service in the foreground; Ctrl-C stops
#                                       both
#   scripts/run.sh --db-only            set up and start PostgreSQL, leave it
#                                       running, exit
#   scripts/run.sh --stop               stop that PostgreSQL
#
# The cluster lives in $LOADSVC_LOCAL_DIR (default .local/) and listens on
# 127.0.0.1:$LOADSVC_LOCAL_PGPORT (default 55432) with trust authentication:
# it is for local development only. Everything here is idempotent: the
# cluster, the database "loadsvc" and the demo table are made only if absent.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

mode=run
case ${1:-} in
--db-only) mode=db-only; shift ;;
--stop) mode=stop; shift ;;
esac

port=${LOADSVC_LOCAL_PGPORT:-55432}
local_dir=${LOADSVC_LOCAL_DIR:-$root/.local}
pgdata=$local_dir/pgdata
sockdir=$local_dir/run
logfile=$local_dir/postgres.log
db=loadsvc

# PostgreSQL refuses to run as root: then its tools run as the postgres user.
as_pg() {
	if [[ $(id -u) -eq 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pick_bindir() {
	if [[ -n ${PG_BINDIR:-} ]]; then
		echo "$PG_BINDIR"
	elif [[ -s $pgdata/PG_VERSION && -x /usr/lib/postgresql/$(<"$pgdata/PG_VERSION")/bin/postgres ]]; then
		# An existing cluster needs the major version that made it.
		echo "/usr/lib/postgresql/$(<"$pgdata/PG_VERSION")/bin"
	else
		compgen -G '/usr/lib/postgresql/*/bin/postgres' | sort -V | tail -n 1 | xargs dirname
	fi
}

running() { [[ -s $pgdata/PG_VERSION ]] && as_pg "$bindir/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; }

stop_pg() {
	if running; then
		echo "==> stopping the local PostgreSQL ($pgdata)"
		as_pg "$bindir/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null
	fi
}

"$root/scripts/ensure-postgres.sh"
bindir=$(pick_bindir)

if [[ $mode == stop ]]; then
	stop_pg
	exit 0
fi

made=()

mkdir -p "$local_dir"
# Unix socket paths are limited to ~107 bytes.
if ((${#sockdir} > 90)); then
	sockdir=/tmp/loadsvc-pg-$(id -u)
fi
mkdir -p "$sockdir"
touch "$logfile"
if [[ $(id -u) -eq 0 ]]; then
	[[ -d $pgdata ]] || install -d -m 700 -o postgres -g postgres "$pgdata"
	chown postgres:postgres "$sockdir" "$logfile"
	if ! runuser -u postgres -- test -w "$pgdata" -a -w "$sockdir"; then
		echo "run.sh: the postgres user cannot reach $local_dir (a parent directory is closed to it); set LOADSVC_LOCAL_DIR to a directory it can reach" >&2
		exit 1
	fi
fi

if [[ ! -s $pgdata/PG_VERSION ]]; then
	echo "==> initdb $pgdata"
	as_pg "$bindir/initdb" --pgdata="$pgdata" --username=postgres --auth=trust \
		--encoding=UTF8 --locale=C.UTF-8 --no-sync >/dev/null
	made+=("PostgreSQL cluster in $pgdata")
fi

started=0
if running; then
	# Already up (another run.sh, or --db-only): use it, leave it running.
	port=$(sed -n 4p "$pgdata/postmaster.pid")
	echo "==> PostgreSQL already running from $pgdata on port $port; leaving it running"
else
	echo "==> starting PostgreSQL on 127.0.0.1:$port (log: $logfile)"
	if ! as_pg "$bindir/pg_ctl" -D "$pgdata" -l "$logfile" -w -t 60 \
		-o "-p $port -k '$sockdir' -c listen_addresses=127.0.0.1" start >/dev/null; then
		echo "run.sh: PostgreSQL did not start; the end of $logfile:" >&2
		tail -n 20 "$logfile" >&2
		exit 1
	fi
	started=1
	if [[ $mode == run ]]; then
		trap stop_pg EXIT
		trap 'exit 130' INT
		trap 'exit 143' TERM
	fi
fi

url="postgres://postgres@127.0.0.1:$port/$db?sslmode=disable"
psql_bin=$bindir/psql
[[ -x $psql_bin ]] || psql_bin=psql
psql_at() { "$psql_bin" -X -q -v ON_ERROR_STOP=1 -tA "postgres://postgres@127.0.0.1:$port/$1?sslmode=disable" "${@:2}"; }

if [[ -z $(psql_at postgres -c "SELECT 1 FROM pg_database WHERE datname = '$db'") ]]; then
	psql_at postgres -c "CREATE DATABASE $db"
	made+=("database $db")
fi
if [[ $(psql_at "$db" -c "SELECT to_regclass('public.demo_nav') IS NULL") == t ]]; then
	psql_at "$db" <<'SQL'
CREATE TABLE public.demo_nav (
    report_date  date,
    plan_code    text,
    company_code text,
    return_rate  numeric(8,6),
    nav          numeric(18,4),
    scale        numeric(18,2),
    data_source  text,
    PRIMARY KEY (report_date, plan_code, company_code)
);
SQL
	made+=("table public.demo_nav")
fi

echo
if ((${#made[@]})); then
	echo "Made:"
	printf '  - %s\n' "${made[@]}"
else
	echo "Nothing to make: cluster, database $db and table public.demo_nav already there."
fi
echo "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port, database $db (trust auth, local development only)"
echo "Look at it:"
echo "  $psql_bin '$url' -c 'TABLE public.demo_nav'"
echo

if [[ $mode == db-only ]]; then
	if ((started)); then
		echo "PostgreSQL left running; stop it with: make run-stop  (or scripts/run.sh --stop)"
	fi
	exit 0
fi

echo "==> go run ./cmd/loadsvc --database-url '$url' --log-format console $*"
go run ./cmd/loadsvc --database-url "$url" --log-format console "$@"

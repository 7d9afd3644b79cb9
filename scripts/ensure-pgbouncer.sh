#!/usr/bin/env bash
# ensure-pgbouncer.sh: make sure Debian's pgbouncer binary is installed, for
# the tests in test/pgbouncer, which start their own pgbouncer process. The
# package's own service is not wanted: it is stopped, so that nothing is left
# listening on its port 6432.
set -euo pipefail

readonly bin=/usr/sbin/pgbouncer

if [[ -x $bin ]]; then
	exit 0
fi

echo "==> installing PgBouncer (apt-get install pgbouncer)"
sudo=
if [[ $(id -u) -ne 0 ]]; then
	sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends pgbouncer

if ! [[ -x $bin ]]; then
	echo "ensure-pgbouncer: $bin still missing after apt-get install" >&2
	exit 1
fi

# The package may have started its daemon (where an init system runs); stop
# it, and anything else of that package still on its pidfile.
$sudo service pgbouncer stop >/dev/null 2>&1 || true
$sudo systemctl disable --now pgbouncer >/dev/null 2>&1 || true
pidfile=/var/run/postgresql/pgbouncer.pid
if [[ -s $pidfile ]]; then
	pid=$(<"$pidfile")
	if [[ $pid =~ ^[0-9]+$ ]] && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == pgbouncer ]]; then
		$sudo kill "$pid" || true
	fi
fi
echo "==> PgBouncer installed: $($bin --version | head -n 1)"

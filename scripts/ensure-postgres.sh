#!/usr/bin/env bash
# ensure-postgres.sh: make sure PostgreSQL server binaries (for the test
# clusters and `make run`) and the psql client are installed; installs the
# Debian packages if not (with sudo unless root).
set -euo pipefail

have_server() {
	if [[ -n ${PG_BINDIR:-} ]]; then
		[[ -x $PG_BINDIR/postgres ]]
	else
		compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null
	fi
}
have_client() { command -v psql >/dev/null; }

if have_server && have_client; then
	exit 0
fi
if [[ -n ${PG_BINDIR:-} ]] && ! [[ -x $PG_BINDIR/postgres ]]; then
	echo "ensure-postgres: PG_BINDIR=$PG_BINDIR holds no postgres binary" >&2
	exit 1
fi

echo "==> installing PostgreSQL (apt-get install postgresql)"
sudo=
if [[ $(id -u) -ne 0 ]]; then
	sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
# We never use the packaged "main" cluster (tests make their own, `make run`
# keeps one in .local/); don't have the package create and start one.
$sudo mkdir -p /etc/postgresql-common/createcluster.d
echo 'create_main_cluster = false' | $sudo tee /etc/postgresql-common/createcluster.d/loadsvc-no-main-cluster.conf >/dev/null
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends postgresql postgresql-client

if ! have_server || ! have_client; then
	echo "ensure-postgres: PostgreSQL still missing after apt-get install" >&2
	exit 1
fi
echo "==> PostgreSQL installed: $(compgen -G '/usr/lib/postgresql/*/bin/postgres' | sort -V | tail -n 1)"

#!/usr/bin/env bash
# ensure-python.sh: make sure Debian's Python 3 and the packages the Python
# client (python/), its tests, its type check (make lint: python3-mypy, with
# python3-typeshed's protobuf stubs) and its stub generation need are
# installed (packages below; python3-psycopg2, python3-psycopg and
# python3-asyncpg are for the benchmark only). Installs what is missing with
# apt-get (with sudo unless root). The client runs on Debian's
# /usr/bin/python3, not on another Python found first on PATH
# (LOADSVC_PYTHON overrides).
set -euo pipefail

python=${LOADSVC_PYTHON:-/usr/bin/python3}
packages=(python3 python3-grpcio python3-protobuf python3-pytest python3-pandas python3-numpy
	python3-mypy python3-typeshed python3-psycopg2 python3-psycopg python3-asyncpg
	protobuf-compiler protobuf-compiler-grpc)

have_all() {
	[[ -x $python ]] && command -v protoc >/dev/null && [[ -x /usr/bin/grpc_python_plugin ]] &&
		"$python" -c 'import grpc, google.protobuf, pytest, pandas, numpy, psycopg2, psycopg, asyncpg, mypy' 2>/dev/null &&
		[[ -z $(dpkg-query -W -f='${db:Status-Status} ${Package}\n' "${packages[@]}" 2>&1 | grep -v '^installed ') ]]
}

if have_all; then
	exit 0
fi
echo "==> installing the Python client's packages (apt-get install ${packages[*]})"
sudo=
if [[ $(id -u) -ne 0 ]]; then
	sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${packages[@]}"

if ! have_all; then
	echo "ensure-python: $python or protoc/grpc_python_plugin still lacks something after apt-get install ${packages[*]}" >&2
	exit 1
fi

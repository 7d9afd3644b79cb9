#!/usr/bin/env bash
# ensure-python.sh: make sure Debian's Python 3 and the packages the Python
# client (python/), its tests and its stub generation need are installed
# (packages below; python3-psycopg2 is for the benchmark only). Installs what
# is missing with apt-get (with sudo unless root). The client runs on Debian's /usr/bin/python3, not on another
# Python found first on PATH (LOADSVC_PYTHON overrides).
set -euo pipefail

python=${LOADSVC_PYTHON:-/usr/bin/python3}
packages=(python3 python3-grpcio python3-protobuf python3-pytest python3-pandas
	python3-numpy python3-psycopg2 protobuf-compiler protobuf-compiler-grpc)

have_all() {
	[[ -x $python ]] && command -v protoc >/dev/null && [[ -x /usr/bin/grpc_python_plugin ]] &&
		"$python" -c 'import grpc, google.protobuf, pytest, pandas, numpy, psycopg2' 2>/dev/null
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

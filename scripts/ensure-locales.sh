#!/usr/bin/env bash
# ensure-locales.sh: make sure the system has a locale besides C and POSIX
# (Debian's locales-all), so that the row-error tests can run PostgreSQL
# with translated messages (lc_messages = 'de_DE.UTF-8') and check that the
# rows reported do not depend on the language. PostgreSQL's translations
# come with its own package; the locale itself is the system's.
set -euo pipefail

if locale -a 2>/dev/null | grep -qi '^de_DE\.utf-\?8$'; then
	exit 0
fi

echo "==> installing the system's locales (apt-get install locales-all)"
sudo=
if [[ $(id -u) -ne 0 ]]; then
	sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -q --no-install-recommends locales-all || {
	$sudo apt-get update -q
	$sudo apt-get install -y -q --no-install-recommends locales-all
}
echo "==> locales installed: $(locale -a | wc -l) of them"

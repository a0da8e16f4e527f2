#!/usr/bin/env bash
# Debian packages the appliance itself needs to print: Pango (with HarfBuzz's subsetter)
# and a font that has the rupee sign, for WeasyPrint's PDFs; libcups and a C compiler,
# which pycups is built against. Packages named as arguments are added to the list
# (install-test-deps.sh passes the test tools). Installed only when missing; needs root or
# sudo.
set -euo pipefail
PYTHON=${PYTHON:-python3}
if ! command -v dpkg-query >/dev/null; then
  echo "note: not a Debian system; install Pango, a DejaVu font, libcups headers and gcc yourself." >&2
  exit 0
fi
missing=()
for pkg in libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core libcups2-dev gcc \
  "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q ' installed$' || missing+=("$pkg")
done
# pycups compiles against the headers of the Python that makes .venv; Debian's python3
# also needs python3-venv (ensurepip) before `python -m venv` works.
if ! "$PYTHON" -c 'import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then
  missing+=(python3-dev)
fi
"$PYTHON" -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "==> installing Debian packages: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

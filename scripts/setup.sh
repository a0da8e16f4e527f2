#!/usr/bin/env bash
# Set up everything the appliance needs from a fresh clone: the virtualenv with pinned
# packages and the pinned front-end assets. Safe to run again; it skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "PhysioEZ needs Python 3.11 or newer; $PYTHON is $("$PYTHON" --version 2>&1)." >&2
  exit 1
fi

PYTHON="$PYTHON" scripts/install-system-deps.sh

stamp=.venv/.physioez-installed
wanted=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PYTHON" -m venv .venv
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "==> installing Python packages (pinned in pyproject.toml and constraints.txt)"
  .venv/bin/python -m pip install --quiet -c constraints.txt -e '.[dev,hq,demo]'
  echo "$wanted" > "$stamp"
fi

vendor=webui/static/vendor/socket.io.min.js
if [ ! -f "$vendor" ] || [ webui/package-lock.json -nt "$vendor" ]; then
  if command -v npm >/dev/null; then
    echo "==> installing front-end packages (pinned in webui/package-lock.json)"
    npm ci --prefix webui --no-audit --no-fund --loglevel=error
    mkdir -p webui/static/vendor
    cp webui/node_modules/socket.io-client/dist/socket.io.min.js "$vendor"
  else
    echo "note: npm not found; pages work, but live updates stay off until 'make setup' runs with npm." >&2
  fi
fi

#!/usr/bin/env bash
# System packages the test suite drives for real: headless Chromium for the browser tests;
# a CUPS server, the cups-pdf printer and Poppler's PDF tools for the printing tests;
# Mosquitto, MariaDB's server and install-db binaries and openssl for the replication tests
# (each test starts its own servers; the -core packages install no system service).
# Installed only when missing; needs root (CI runs as root) or sudo.
set -euo pipefail
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v npm >/dev/null || missing+=(npm)
[ -x /usr/sbin/cupsd ] && [ -x /usr/sbin/lpadmin ] || missing+=(cups)
[ -e /usr/lib/cups/backend/cups-pdf ] || missing+=(printer-driver-cups-pdf)
command -v pdftotext >/dev/null && command -v pdftocairo >/dev/null || missing+=(poppler-utils)
[ -x /usr/sbin/mosquitto ] && [ -x /usr/bin/mosquitto_passwd ] || missing+=(mosquitto)
[ -x /usr/sbin/mariadbd ] && [ -x /usr/bin/mariadb-install-db ] || missing+=(mariadb-server-core)
# mariadb-install-db reads its options with my_print_defaults.
[ -x /usr/bin/my_print_defaults ] || missing+=(mariadb-client-core)
command -v openssl >/dev/null || missing+=(openssl)
[ ${#missing[@]} -eq 0 ] && exit 0
exec "$(dirname "$0")/install-system-deps.sh" "${missing[@]}"

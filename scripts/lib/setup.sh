# Shared set-up for scripts/test and scripts/demo (sourced, not run). On a fresh Debian machine:
#   ensure_venv     creates $VENV (default .venv) and installs the package (extras in $1, e.g. test);
#                   skipped when done before and pyproject.toml has not changed since
#   ensure_influxd  installs Debian's `influxdb` package when no influxd is on PATH or in $INFLUXD,
#                   and stops the system service it may start (callers run their own server)
# Messages are prefixed with $SETUP_NAME (the calling script's name). Run from the repository root.

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
SETUP_NAME=${SETUP_NAME:-setup}

ensure_venv() {
  local extras=${1:-}
  if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "$SETUP_NAME: $PYTHON not found; install Python 3.11+ (Debian: apt-get install python3 python3-venv)" >&2
    exit 2
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV" || {
      echo "$SETUP_NAME: cannot create a virtualenv; on Debian: apt-get install python3-venv" >&2
      exit 2
    }
  fi
  # Installed before with these extras (no extras: any) and pyproject.toml unchanged since:
  # nothing to do.
  local stamp="$VENV/.installed${extras:+-$extras}" done
  for done in "$stamp" ${extras:-"$VENV"/.installed-*}; do
    if [ -f "$done" ] && [ "$done" -nt pyproject.toml ]; then
      return 0
    fi
  done
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".${extras:+[$extras]}"
  touch "$stamp"
}

ensure_influxd() {
  if [ -n "${INFLUXD:-}" ] || command -v influxd >/dev/null 2>&1; then
    return 0
  fi
  if command -v apt-get >/dev/null 2>&1; then
    echo "$SETUP_NAME: influxd not found; installing Debian's influxdb package" >&2
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq influxdb >/dev/null
    # The package may start a system service; our callers run their own server.
    $sudo systemctl stop influxdb >/dev/null 2>&1 || true
  else
    echo "$SETUP_NAME: influxd not found and this is not a Debian system; install InfluxDB" \
         "(1.x or 2.x influxd) and put it on PATH or set INFLUXD=/path/to/influxd" >&2
    exit 2
  fi
}

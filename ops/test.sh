#!/usr/bin/env bash
# ops/test.sh: run every test against fresh, private NATS, Temporal and PostgreSQL instances.
#
# Installs what is missing, starts the three servers on free loopback ports in a temporary
# folder, runs `cargo test --workspace` with their addresses in BOXOFFICE_TEST_*, and tears
# everything down afterwards, whatever happened. Exits non-zero on any failure.
# Extra arguments go to `cargo test` (e.g. `./ops/test.sh -p boxoffice-tests seat_store`).
# A full run (no arguments) first fails on `cargo fmt --check`, on `cargo clippy -D warnings`,
# and on query data in .sqlx/ that the queries and migrations no longer produce (regenerate it
# with ./ops/sqlx-prepare.sh).
# BOXOFFICE_TEST_KEEP=1 keeps the temporary folder (logs, data) for inspection.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
source "$BOXOFFICE_ROOT/ops/lib/services.sh"
source "$BOXOFFICE_ROOT/ops/lib/sqlx.sh"

ensure_deps
ensure_browser
# The API fuzzing test runs schemathesis against the gateway's OpenAPI document.
SCHEMATHESIS_VERSION=4.32.5
if ! "$BOXOFFICE_VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  say "installing schemathesis $SCHEMATHESIS_VERSION into $BOXOFFICE_VENV"
  "$BOXOFFICE_VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" >/dev/null 2>&1 ||
    die "pip could not install schemathesis==$SCHEMATHESIS_VERSION: check access to PyPI and retry"
fi
export BOXOFFICE_TEST_SCHEMATHESIS="$BOXOFFICE_VENV/bin/schemathesis"

# A full run (no arguments) also checks the format, the lints and the query data; a filtered
# run skips them unless BOXOFFICE_TEST_LINT=1, to keep iterating quick.
LINT=0
[[ $# -eq 0 || ${BOXOFFICE_TEST_LINT:-0} == 1 ]] && LINT=1
if ((LINT)); then
  say "checking the format (cargo fmt --check)"
  if ! { cargo fmt --version && cargo clippy --version; } >/dev/null 2>&1; then
    rustup component add rustfmt clippy >/dev/null 2>&1 ||
      die "cargo fmt and cargo clippy are missing: run 'rustup component add rustfmt clippy'"
  fi
  (cd "$BOXOFFICE_ROOT" && cargo fmt --all --check) ||
    die "cargo fmt --check found unformatted code: run 'cargo fmt --all'"
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/boxoffice-test.XXXXXX")
chmod 755 "$TMP"
cleanup() {
  local rc=$?
  stop_services
  if [[ ${BOXOFFICE_TEST_KEEP:-0} == 1 || $rc != 0 ]]; then say "logs and data kept in $TMP"; else rm -rf "$TMP"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PG_PORT=$(free_port)
say "starting PostgreSQL :$PG_PORT in $TMP"
start_pg "$TMP/pg" "$PG_PORT"
export BOXOFFICE_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"

# The lints, in the same compilation as the query check: clippy runs with every query macro
# describing its query against a database migrated from migrations/ (a query the schema
# rejects fails here) and writing the data it learns; that data must be exactly .sqlx/, or the
# build would check queries against a stale picture of the schema (ops/lib/sqlx.sh).
if ((LINT)); then
  say "checking the lints (cargo clippy -D warnings) and the query data in .sqlx/ against migrations/"
  sqlx_url=$(sqlx_create_migrated "$BOXOFFICE_TEST_DATABASE_URL" sqlx_check)
  sqlx_online "$sqlx_url" "$TMP/sqlx" cargo clippy -q --workspace --all-targets -- -D warnings ||
    die "cargo clippy found warnings or errors (shown above): fix them, then rerun"
  sqlx_compare "$TMP/sqlx"
fi

NATS_PORT=$(free_port); NATS_MON=$(free_port)
TEMPORAL_PORT=$(free_port); TEMPORAL_METRICS=$(free_port)

say "starting NATS :$NATS_PORT and Temporal :$TEMPORAL_PORT in $TMP"
start_nats "$TMP/nats" "$NATS_PORT" "$NATS_MON"
start_temporal "$TMP/temporal" "$TEMPORAL_PORT" 0 "$TEMPORAL_METRICS"

export BOXOFFICE_TEST_NATS_URL="nats://127.0.0.1:$NATS_PORT"
export BOXOFFICE_TEST_NATS_MONITOR_URL="http://127.0.0.1:$NATS_MON"
export BOXOFFICE_TEST_TEMPORAL_URL="http://127.0.0.1:$TEMPORAL_PORT"
export BOXOFFICE_TEST_NATS_SERVER_BIN="$NATS_SERVER_BIN"
export BOXOFFICE_TEST_TEMPORAL_BIN="$TEMPORAL_BIN"
export BOXOFFICE_TEST_TMP="$TMP"
# The tests' services run on the development secrets (tests/tests/secrets.rs clears this to
# prove that nothing starts on them without it).
export BOXOFFICE_DEV_MODE=1

cd "$BOXOFFICE_ROOT"
# The process tests run the real binaries (SIGTERM, kill): build them first, since
# `cargo test` builds a package's binaries only for that package's own integration tests.
say "building the binaries"
cargo build --workspace --bins
export BOXOFFICE_TEST_BIN_DIR="${CARGO_TARGET_DIR:-$BOXOFFICE_ROOT/target}/debug"
say "running cargo test --workspace $*"
cargo test --workspace --no-fail-fast "$@"

#!/usr/bin/env bash
# ops/sqlx-prepare.sh: regenerates .sqlx/, the query data that lets the build check every
# `sqlx::query!` without a database. Run it after changing a query or adding a migration, and
# commit .sqlx/ with the change; the full ./ops/test.sh fails while .sqlx/ is stale.
#
# Starts a private PostgreSQL in a temporary folder, applies migrations/, runs `cargo check
# --workspace --all-targets` with the query macros describing every query against it (a wrong
# query fails here, with the database's error), replaces .sqlx/ with what they wrote, and tears
# everything down, whatever happened. Why: docs/adr/0019-queries-checked-at-build-time.md.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
source "$BOXOFFICE_ROOT/ops/lib/services.sh"
source "$BOXOFFICE_ROOT/ops/lib/sqlx.sh"

ensure_deps

TMP=$(mktemp -d "${TMPDIR:-/tmp}/boxoffice-sqlx.XXXXXX")
chmod 755 "$TMP"
cleanup() {
  local rc=$?
  stop_services
  if [[ $rc != 0 ]]; then say "logs kept in $TMP"; else rm -rf "$TMP"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PG_PORT=$(free_port)
say "starting PostgreSQL :$PG_PORT in $TMP and applying migrations/"
start_pg "$TMP/pg" "$PG_PORT"
url=$(sqlx_create_migrated "postgres://postgres@127.0.0.1:$PG_PORT/postgres" boxoffice)

say "describing every query (cargo check --workspace --all-targets)"
sqlx_online "$url" "$TMP/sqlx" cargo check -q --workspace --all-targets ||
  die "cargo check failed with every query checked against the migrated database: fix the errors above, then rerun"
compgen -G "$TMP/sqlx/query-*.json" >/dev/null || die "no query data was written"

# Replace .sqlx/ only when something changed: the workflows crate rebuilds (and every crate
# with it) when .sqlx/ does (workflows/build.rs).
if diff -rq "$SQLX_DATA_DIR" "$TMP/sqlx" >/dev/null 2>&1; then
  say ".sqlx/ is up to date ($(ls "$SQLX_DATA_DIR" | wc -l) queries)"
else
  rm -rf "$SQLX_DATA_DIR"
  cp -r "$TMP/sqlx" "$SQLX_DATA_DIR"
  say ".sqlx/ regenerated ($(ls "$SQLX_DATA_DIR" | wc -l) queries): commit it with your change"
  git -C "$BOXOFFICE_ROOT" status --short -- .sqlx | head -20 >&2 || true
fi

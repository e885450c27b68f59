#!/usr/bin/env bash
# ops/lib/sqlx.sh: the query data in .sqlx/ that lets the sqlx query macros check every query
# at build time without a database (sourced, never run). Why and how:
# docs/adr/0019-queries-checked-at-build-time.md.
#
# The macros (`sqlx::query!` and its kin) describe each query against the database in
# DATABASE_URL when it is set and SQLX_OFFLINE is not true, and then write what they learn into
# SQLX_OFFLINE_DIR when that is set too. Otherwise they read it back from .sqlx/ (the scripts
# set SQLX_OFFLINE=true: see common.sh). Needs ops/lib/common.sh (ensure_deps: PG_BIN) first.

SQLX_DATA_DIR="$BOXOFFICE_ROOT/.sqlx"

# sqlx_migrate <database_url>: applies migrations/*.sql in file-name order, each in its own
# transaction unless it starts with `-- no-transaction`, as `sqlx::migrate!` does. With psql
# rather than the project's own migrator, which is compiled with the very queries whose data
# may be stale, so it may not build yet.
sqlx_migrate() {
  local url=$1 file single
  for file in "$BOXOFFICE_ROOT"/migrations/*.sql; do
    single=--single-transaction
    head -1 "$file" | grep -q '^-- no-transaction' && single=
    "$PG_BIN/psql" "$url" -q -X -v ON_ERROR_STOP=1 $single -f "$file" >/dev/null ||
      die "migration $(basename "$file") failed against $url"
  done
}

# sqlx_create_migrated <server_url> <name>: creates database <name> on the server whose
# maintenance database <server_url> names, migrates it, and prints its URL.
sqlx_create_migrated() {
  local server=$1 name=$2
  "$PG_BIN/psql" "$server" -q -X -v ON_ERROR_STOP=1 -c "create database $name" >/dev/null ||
    die "could not create database $name on $server"
  local url="${server%/*}/$name"
  sqlx_migrate "$url"
  printf '%s\n' "$url"
}

# sqlx_online <database_url> <out_dir> <command...>: runs a cargo command (from the repository
# root) with the query macros online against the migrated database at <database_url>, each
# macro writing its query's data into <out_dir>, which must not exist yet. A new <out_dir> also
# makes cargo re-expand every query macro of the workspace: boxoffice-workflows reads
# SQLX_OFFLINE_DIR with `option_env!` (store/db.rs), which cargo tracks, and every crate with
# queries depends on it. Returns the command's status.
sqlx_online() {
  local url=$1 out=$2; shift 2
  [[ ! -e $out ]] || die "$out exists: the query data must go to a new folder"
  mkdir -p "$out"
  (cd "$BOXOFFICE_ROOT" && DATABASE_URL=$url SQLX_OFFLINE=false SQLX_OFFLINE_DIR=$out "$@")
}

# sqlx_compare <generated_dir>: fails, naming each query, unless .sqlx/ holds exactly the query
# data in <generated_dir> (written by sqlx_online): none missing, none different, none left over.
sqlx_compare() {
  local out=$1 f stale=0
  compgen -G "$out/query-*.json" >/dev/null || die "no query data was written to $out"
  for f in "$out"/query-*.json; do
    if [[ ! -f $SQLX_DATA_DIR/${f##*/} ]]; then
      sqlx_report "new or changed query" "$f"; stale=1
    elif ! cmp -s "$f" "$SQLX_DATA_DIR/${f##*/}"; then
      sqlx_report "described differently now (the schema changed)" "$f"; stale=1
    fi
  done
  for f in "$SQLX_DATA_DIR"/query-*.json; do
    [[ ! -f $f || -f $out/${f##*/} ]] || { sqlx_report "no longer in the code" "$f"; stale=1; }
  done
  ((stale == 0)) ||
    die ".sqlx/ is stale: a query or a migration changed without regenerating it (above). Run ./ops/sqlx-prepare.sh and commit .sqlx/"
}

# sqlx_report <what> <query data file>: one line naming the query by the start of its SQL.
sqlx_report() {
  local sql
  sql=$(sed -n 's/^  "query": "\(.*\)",$/\1/p' "$2" | sed 's/\\n */ /g' | cut -c1-90)
  printf '  %s: %s (%s)\n' "$1" "$sql" "${2##*/}" >&2
}

#!/usr/bin/env bash
# ops/up.sh: run the whole platform locally, with a demo event on sale.
#
# Installs what is missing, starts NATS (JetStream), the Temporal dev server (with its Web UI)
# and PostgreSQL under .data/ (kept between runs), applies the migrations, provisions JetStream,
# creates a demo event the first time, starts boxoffice-worker and boxoffice-gateway, prints
# every URL, and stops everything on Ctrl-C. Running it again while it runs just prints the URLs.
# Ports: BOXOFFICE_{NATS,NATS_MONITOR,TEMPORAL,TEMPORAL_UI,PG,GATEWAY,WORKER_ADMIN,PAYMENTS}_PORT.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
source "$BOXOFFICE_ROOT/ops/lib/services.sh"

DATA="${BOXOFFICE_DATA_DIR:-$BOXOFFICE_ROOT/.data}"
NATS_PORT=${BOXOFFICE_NATS_PORT:-4222}
NATS_MON=${BOXOFFICE_NATS_MONITOR_PORT:-8222}
TEMPORAL_PORT=${BOXOFFICE_TEMPORAL_PORT:-7233}
TEMPORAL_UI=${BOXOFFICE_TEMPORAL_UI_PORT:-8233}
TEMPORAL_METRICS=${BOXOFFICE_TEMPORAL_METRICS_PORT:-7235}
PG_PORT=${BOXOFFICE_PG_PORT:-5433}
GATEWAY_PORT=${BOXOFFICE_GATEWAY_PORT:-8080}
WORKER_PORT=${BOXOFFICE_WORKER_ADMIN_PORT:-9090}
PAYMENTS_PORT=${BOXOFFICE_PAYMENTS_PORT:-8090}

mkdir -p "$DATA/logs"
if [[ -f $DATA/up.pid ]] && kill -0 "$(cat "$DATA/up.pid")" 2>/dev/null; then
  say "already running (pid $(cat "$DATA/up.pid")); stop it with Ctrl-C in its terminal"
  cat "$DATA/urls.txt" 2>/dev/null || true
  exit 0
fi

ensure_deps
require_free_port NATS "$NATS_PORT" BOXOFFICE_NATS_PORT
require_free_port "NATS monitoring" "$NATS_MON" BOXOFFICE_NATS_MONITOR_PORT
require_free_port Temporal "$TEMPORAL_PORT" BOXOFFICE_TEMPORAL_PORT
require_free_port "Temporal UI" "$TEMPORAL_UI" BOXOFFICE_TEMPORAL_UI_PORT
require_free_port "Temporal metrics" "$TEMPORAL_METRICS" BOXOFFICE_TEMPORAL_METRICS_PORT
require_free_port PostgreSQL "$PG_PORT" BOXOFFICE_PG_PORT
require_free_port gateway "$GATEWAY_PORT" BOXOFFICE_GATEWAY_PORT
require_free_port "worker admin" "$WORKER_PORT" BOXOFFICE_WORKER_ADMIN_PORT
require_free_port "payments sandbox" "$PAYMENTS_PORT" BOXOFFICE_PAYMENTS_PORT

cd "$BOXOFFICE_ROOT"
say "building the platform (cargo build; the first build takes several minutes)"
cargo build -q --workspace --bins
BIN="${CARGO_TARGET_DIR:-$BOXOFFICE_ROOT/target}/debug"

echo $$ >"$DATA/up.pid"
cleanup() {
  say "stopping"
  stop_services
  rm -f "$DATA/up.pid"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

say "starting NATS, PostgreSQL and Temporal under $DATA"
start_nats "$DATA/nats" "$NATS_PORT" "$NATS_MON"
start_pg "$DATA/pg" "$PG_PORT"
start_temporal "$DATA/temporal" "$TEMPORAL_PORT" "$TEMPORAL_UI" "$TEMPORAL_METRICS" persistent

if [[ -z $(pg_run "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "select 1 from pg_database where datname = 'boxoffice'") ]]; then
  pg_run "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres boxoffice
fi
export BOXOFFICE_NATS_URL="nats://127.0.0.1:$NATS_PORT"
export BOXOFFICE_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/boxoffice"
export BOXOFFICE_TEMPORAL_URL="http://127.0.0.1:$TEMPORAL_PORT"
export BOXOFFICE_HTTP_ADDR="127.0.0.1:$GATEWAY_PORT"
export BOXOFFICE_WORKER_ADMIN_ADDR="127.0.0.1:$WORKER_PORT"
export BOXOFFICE_PAYMENTS_URL="http://127.0.0.1:$PAYMENTS_PORT"
export BOXOFFICE_TEMPORAL_UI_URL="http://127.0.0.1:$TEMPORAL_UI"
# Plain HTTP on loopback for local development: the admin cookie cannot be HTTPS-only here.
export BOXOFFICE_ADMIN_COOKIE_SECURE=false
# Development mode: the services start on their development secrets (each says so in a
# warning). BOXOFFICE_DEV_MODE=0 with your own secrets set rehearses a deployment instead
# (README, "Before deploying: what to set").
export BOXOFFICE_DEV_MODE=${BOXOFFICE_DEV_MODE:-1}

"$BIN/boxofficectl" migrate >/dev/null
"$BIN/boxofficectl" provision >/dev/null
if [[ ! -s $DATA/demo-event ]]; then
  "$BIN/boxofficectl" demo-event >"$DATA/demo-event"
fi
EVENT=$(cat "$DATA/demo-event")

# The payment provider stand-in (a third party: its own process and ledger), calling the
# gateway's webhook endpoint (it retries until the gateway is up). It shares the platform's
# payment secrets when they are set, and its own defaults (the development values) otherwise.
SANDBOX_ADDR="127.0.0.1:$PAYMENTS_PORT" SANDBOX_DATA_DIR="$DATA/payments-sandbox" \
  SANDBOX_WEBHOOK_URL="http://127.0.0.1:$GATEWAY_PORT/webhooks/payments" \
  SANDBOX_API_KEY="${BOXOFFICE_PAYMENTS_API_KEY:-sk_sandbox}" \
  SANDBOX_WEBHOOK_SECRET="${BOXOFFICE_PAYMENTS_WEBHOOK_SECRET:-whsec_sandbox}" \
  "$BIN/boxoffice-payments-sandbox" >"$DATA/logs/payments-sandbox.log" 2>&1 &
SVC_PIDS+=("$!")
"$BIN/boxoffice-worker" >"$DATA/logs/worker.log" 2>&1 &
SVC_PIDS+=("$!")
"$BIN/boxoffice-gateway" >"$DATA/logs/gateway.log" 2>&1 &
SVC_PIDS+=("$!")
ready() { python3 -c "import urllib.request; urllib.request.urlopen('$1', timeout=2)"; }
wait_until 30 "payments sandbox" ready "http://127.0.0.1:$PAYMENTS_PORT/healthz" || die "the payments sandbox is not ready (log: $DATA/logs/payments-sandbox.log)"
wait_until 60 worker ready "http://127.0.0.1:$WORKER_PORT/readyz" || die "the worker is not ready (log: $DATA/logs/worker.log)"
wait_until 60 gateway ready "http://127.0.0.1:$GATEWAY_PORT/readyz" || die "the gateway is not ready (log: $DATA/logs/gateway.log)"

PAYMENTS_KEY_NOTE="API key sk_sandbox"
[[ -n ${BOXOFFICE_PAYMENTS_API_KEY:-} ]] && PAYMENTS_KEY_NOTE="API key: \$BOXOFFICE_PAYMENTS_API_KEY"
cat >"$DATA/urls.txt" <<URLS

  Boxoffice is running. Ctrl-C stops everything.

  Gateway (buyer API)     http://127.0.0.1:$GATEWAY_PORT      (/healthz /readyz /metrics)
  API docs (browsable)    http://127.0.0.1:$GATEWAY_PORT/api/docs/   (OpenAPI: /api/v1/openapi.json)
  Worker admin            http://127.0.0.1:$WORKER_PORT      (/healthz /readyz /metrics)
  Payments sandbox        http://127.0.0.1:$PAYMENTS_PORT      ($PAYMENTS_KEY_NOTE; hosted checkout at /checkout/<id>)
  Temporal Web UI         http://127.0.0.1:$TEMPORAL_UI
  Temporal frontend       127.0.0.1:$TEMPORAL_PORT (gRPC)
  NATS                    nats://127.0.0.1:$NATS_PORT   monitoring http://127.0.0.1:$NATS_MON
  PostgreSQL              postgres://postgres@127.0.0.1:$PG_PORT/boxoffice
  Admin UI (organizers)   http://127.0.0.1:$GATEWAY_PORT/admin/   (sign in as demo@boxoffice.local, password ${BOXOFFICE_DEMO_PASSWORD:-boxoffice-demo})
  Demo event              $EVENT   (organizer demo@boxoffice.local)
  Buyer pages             http://127.0.0.1:$GATEWAY_PORT/events/$EVENT   (events on sale: http://127.0.0.1:$GATEWAY_PORT/)
  Door check-in           http://127.0.0.1:$GATEWAY_PORT/admin/checkin   (add door staff on the admin events page; verify offline: boxofficectl verify-ticket)
  Seat map (CLI)          BOXOFFICE_NATS_URL=nats://127.0.0.1:$NATS_PORT $BIN/boxofficectl seats --event $EVENT --section LOWER
  Buy a seat (HTTP)       G=http://127.0.0.1:$GATEWAY_PORT; T=\$(curl -s -XPOST \$G/api/v1/sessions | jq -r .token)
                          Q=\$(curl -s -XPOST -H "Authorization: Bearer \$T" \$G/api/v1/events/$EVENT/queue | jq -r .queue_ticket)
                          A=\$(curl -s -H "Authorization: Bearer \$T" \$G/api/v1/queue/\$Q | jq -r .admission_token)
                          curl -s -XPOST -H "Authorization: Bearer \$T" -H "Admission-Token: \$A" -H "Idempotency-Key: k1" \\
                            -H 'content-type: application/json' -d '{"seats":["LOWER:A-1"]}' \$G/api/v1/events/$EVENT/orders
                          (then GET \$G/api/v1/orders/<order_id> for the checkout URL; see README)
  Buy a seat (CLI)        BOXOFFICE_NATS_URL=nats://127.0.0.1:$NATS_PORT BOXOFFICE_DATABASE_URL=$BOXOFFICE_DATABASE_URL \\
                            $BIN/boxofficectl intent --event $EVENT --seats LOWER:A-1   (then pay at the printed URL)
  Reconcile now (CLI)     BOXOFFICE_TEMPORAL_URL=$BOXOFFICE_TEMPORAL_URL $BIN/boxofficectl reconcile
  Logs                    $DATA/logs/ and $DATA/{nats,pg,temporal}/

URLS
cat "$DATA/urls.txt"
# Stay in the foreground until Ctrl-C; notice if a platform process dies.
while true; do
  for pid in "${SVC_PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null || die "a process (pid $pid) exited; see $DATA/logs/"
  done
  sleep 2
done

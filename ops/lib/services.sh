#!/usr/bin/env bash
# ops/lib/services.sh: start and stop private NATS, Temporal and PostgreSQL instances on
# loopback (sourced, never run). Each start_* writes a log under $SVC_DIR and records a pid;
# stop_services stops everything this shell started, in reverse order.
# Needs ops/lib/common.sh (ensure_deps) first.

SVC_PIDS=()
PG_STARTED_DIR=""

# Prints a free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Fails with one clear line when a fixed port is taken.
require_free_port() { # name port env_var
  if port_in_use "$2"; then
    die "port $2 ($1) is in use: stop what is using it, or pick another with $3=<port>"
  fi
}

# wait_until <seconds> <description> <command...>: polls the command every 0.2 s.
wait_until() {
  local deadline=$((SECONDS + $1)) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# start_nats <dir> <port> <monitor_port>: JetStream on file storage, fsync on every write
# (docs/adr/0003-seat-store-sync-policy.md).
start_nats() {
  local dir=$1 port=$2 mport=$3
  mkdir -p "$dir/jetstream"
  cat >"$dir/nats.conf" <<CONF
listen: 127.0.0.1:$port
http: 127.0.0.1:$mport
server_name: boxoffice-$port
max_payload: 1MB
jetstream {
  store_dir: "$dir/jetstream"
  sync_interval: ${BOXOFFICE_NATS_SYNC_INTERVAL:-always}
  max_memory_store: 256MB
  max_file_store: 20GB
}
CONF
  "$NATS_SERVER_BIN" -c "$dir/nats.conf" >"$dir/nats.log" 2>&1 &
  local pid=$!
  echo "$pid" >"$dir/nats.pid"
  SVC_PIDS+=("$pid")
  wait_until 20 nats python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$mport/healthz?js-enabled-only=true', timeout=1)" ||
    { tail -5 "$dir/nats.log" >&2; die "nats-server did not become healthy (log: $dir/nats.log)"; }
}

# start_nats_cluster <dir> <nodes>: a JetStream cluster of <nodes> servers on free loopback
# ports, each in <dir>/n<i> with its own store and pid file (<dir>/n<i>/nats.pid), fsync on
# every write. Sets NATS_CLUSTER_URLS (comma-separated client URLs) and waits until the
# cluster has a JetStream meta leader.
start_nats_cluster() {
  local dir=$1 nodes=$2 i
  local ports=() mons=() routes=() urls=()
  for ((i = 1; i <= nodes; i++)); do
    ports+=("$(free_port)"); mons+=("$(free_port)"); routes+=("$(free_port)")
  done
  local route_list=""
  for ((i = 0; i < nodes; i++)); do route_list+="nats-route://127.0.0.1:${routes[i]},"; done
  route_list=${route_list%,}
  for ((i = 0; i < nodes; i++)); do
    local d="$dir/n$((i + 1))"
    mkdir -p "$d/jetstream"
    cat >"$d/nats.conf" <<CONF
listen: 127.0.0.1:${ports[i]}
http: 127.0.0.1:${mons[i]}
server_name: boxoffice-n$((i + 1))
max_payload: 1MB
jetstream {
  store_dir: "$d/jetstream"
  sync_interval: ${BOXOFFICE_NATS_SYNC_INTERVAL:-always}
  max_memory_store: 256MB
  max_file_store: 20GB
}
cluster {
  name: boxoffice
  listen: 127.0.0.1:${routes[i]}
  routes: [${route_list//,/, }]
}
CONF
    "$NATS_SERVER_BIN" -c "$d/nats.conf" >"$d/nats.log" 2>&1 &
    echo "$!" >"$d/nats.pid"
    SVC_PIDS+=("$!")
    urls+=("nats://127.0.0.1:${ports[i]}")
  done
  for ((i = 0; i < nodes; i++)); do
    # Full health: JetStream enabled and the meta group has a leader.
    wait_until 60 "nats node $((i + 1))" python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${mons[i]}/healthz', timeout=1)" ||
      { tail -5 "$dir/n$((i + 1))/nats.log" >&2; die "nats node $((i + 1)) did not become healthy (log: $dir/n$((i + 1))/nats.log)"; }
  done
  NATS_CLUSTER_URLS=$(IFS=,; echo "${urls[*]}")
  export NATS_CLUSTER_URLS
}

# start_temporal <dir> <port> <ui_port|0> <metrics_port> [persistent]: the dev server; with
# "persistent", a SQLite file in WAL mode (survives restarts), otherwise in memory.
start_temporal() {
  local dir=$1 port=$2 ui=$3 mport=$4 mode=${5:-memory}
  mkdir -p "$dir"
  local args=(server start-dev --ip 127.0.0.1 --port "$port" --metrics-port "$mport" --log-level warn
    --dynamic-config-value matching.numTaskqueueReadPartitions=1
    --dynamic-config-value matching.numTaskqueueWritePartitions=1)
  if [[ $ui == 0 ]]; then args+=(--headless); else args+=(--ui-port "$ui"); fi
  if [[ $mode == persistent ]]; then
    args+=(--db-filename "$dir/temporal.db" --sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=normal)
  fi
  GOGC=400 "$TEMPORAL_BIN" "${args[@]}" >"$dir/temporal.log" 2>&1 &
  local pid=$!
  echo "$pid" >"$dir/temporal.pid"
  SVC_PIDS+=("$pid")
  wait_until 60 temporal "$TEMPORAL_BIN" operator namespace describe default --address "127.0.0.1:$port" ||
    { tail -5 "$dir/temporal.log" >&2; die "the Temporal dev server did not become ready (log: $dir/temporal.log)"; }
}

# Runs a PostgreSQL tool as the cluster owner (initdb refuses root).
pg_run() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# start_pg <dir> <port>: a private cluster (initdb once), trust auth on loopback only.
start_pg() {
  local dir=$1 port=$2
  mkdir -p "$dir"
  [[ $(id -u) -eq 0 ]] && chown postgres:postgres "$dir" && chmod 700 "$dir"
  if [[ ! -f "$dir/PG_VERSION" ]]; then
    pg_run "$PG_BIN/initdb" -D "$dir" -U postgres --auth=trust --encoding=UTF8 --no-locale >"$dir.initdb.log" 2>&1 ||
      { tail -5 "$dir.initdb.log" >&2; die "initdb failed (log: $dir.initdb.log)"; }
  fi
  pg_run "$PG_BIN/pg_ctl" -D "$dir" -l "$dir/postgres.log" -w -t 60 start \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=400 -c shared_buffers=256MB -c fsync=${BOXOFFICE_PG_FSYNC:-on}" >/dev/null ||
    { tail -5 "$dir/postgres.log" >&2; die "PostgreSQL did not start (log: $dir/postgres.log)"; }
  PG_STARTED_DIR=$dir
}

# Stops every service this shell started: TERM, then KILL after 10 s.
stop_services() {
  local pid i
  for ((i = ${#SVC_PIDS[@]} - 1; i >= 0; i--)); do
    pid=${SVC_PIDS[i]}
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  SVC_PIDS=()
  if [[ -n $PG_STARTED_DIR ]]; then
    pg_run "$PG_BIN/pg_ctl" -D "$PG_STARTED_DIR" -m fast -w stop >/dev/null 2>&1 || true
    PG_STARTED_DIR=""
  fi
}

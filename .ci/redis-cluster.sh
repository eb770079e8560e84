#!/usr/bin/env bash
# CI: make sure a 3-master Redis Cluster (no replicas) answers on 127.0.0.1:7101-7103. Idempotent:
# a cluster that already reports cluster_state:ok is left alone; missing nodes are started; nodes
# that run but do not form a healthy cluster (left-over nodes-*.conf, half-made create) are flushed,
# reset (CLUSTER RESET HARD) and created again. Prints one line saying what it did; exit 1 with the
# reason (and the tail of the node's log) when it cannot get there within ~30 s.
set -euo pipefail

HOST=127.0.0.1
PORTS=(7101 7102 7103)
BASE=/tmp/byoip-redis-cluster
READY_TIMEOUT=30 # seconds for cluster_state:ok after create
START_TIMEOUT=10 # seconds for a started node to answer PING

started_at=$(date +%s%N)
elapsed() { echo "$(( ($(date +%s%N) - started_at) / 1000000 )) ms"; }
fail() { echo "redis-cluster: $*" >&2; exit 1; }

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi

cli() { local port=$1; shift; timeout 5 redis-cli -h "$HOST" -p "$port" "$@" 2>&1; }
pong() { [ "$(cli "$1" PING)" = PONG ]; }
info_field() { cli "$1" CLUSTER INFO | tr -d '\r' | sed -n "s/^$2://p"; }
state_ok() { [ "$(info_field "$1" cluster_state)" = ok ]; }
all_ok() { local p; for p in "${PORTS[@]}"; do state_ok "$p" || return 1; done; }
log_tail() { if [ -f "$BASE/$1/redis.log" ]; then tail -n 5 "$BASE/$1/redis.log" | sed "s/^/  [$1] /" >&2; fi; }

# 1. Already healthy (every node, not just the first: a node that lost its peer only notices
# after cluster-node-timeout): nothing to do.
if all_ok; then
  echo "redis-cluster: already up on $HOST:${PORTS[0]}-${PORTS[-1]} (cluster_state:ok), nothing to do ($(elapsed))"
  exit 0
fi

# 2. Start the nodes that do not answer.
started=()
for port in "${PORTS[@]}"; do
  pong "$port" && continue
  dir="$BASE/$port"
  mkdir -p "$dir"
  redis-server --port "$port" --cluster-enabled yes --cluster-config-file "nodes-$port.conf" \
    --cluster-node-timeout 5000 --appendonly no --save "" --bind "$HOST" --daemonize yes \
    --dir "$dir" --logfile "$dir/redis.log" --pidfile "$dir/redis.pid" >/dev/null \
    || { log_tail "$port"; fail "redis-server on port $port did not start"; }
  started+=("$port")
done
for port in "${started[@]}"; do
  for _ in $(seq 1 $((START_TIMEOUT * 10))); do pong "$port" && break; sleep 0.1; done
  pong "$port" || { log_tail "$port"; fail "redis-server on $HOST:$port did not answer PING within ${START_TIMEOUT} s"; }
done
for port in "${PORTS[@]}"; do
  reply=$(cli "$port" CLUSTER INFO || true)
  case "$reply" in
    *cluster_state:*) ;;
    *) fail "$HOST:$port answers but is not a cluster node (CLUSTER INFO: ${reply%%$'\n'*}); stop it or free the port" ;;
  esac
done

# 3. Nodes restarted from the nodes-*.conf of one complete cluster (each knows all three nodes and
# all slots are assigned) find each other again within a few seconds; give them that chance
# before throwing the cluster away. A node that knows only itself means no such chance.
consistent() {
  local p
  for p in "${PORTS[@]}"; do
    [ "$(info_field "$p" cluster_slots_assigned)" = 16384 ] && [ "$(info_field "$p" cluster_known_nodes)" = "${#PORTS[@]}" ] || return 1
  done
}
if consistent; then
  for _ in $(seq 1 50); do all_ok && break; sleep 0.1; done
  if all_ok; then
    echo "redis-cluster: started ${#started[@]} node(s) (${started[*]:-none}), existing cluster on $HOST:${PORTS[0]}-${PORTS[-1]} recovered to cluster_state:ok ($(elapsed))"
    exit 0
  fi
fi

# 4. Stale or never formed: wipe every node (FLUSHALL first: a master with keys refuses a reset;
# a replica is turned into an empty master by the reset), then create the cluster afresh.
for port in "${PORTS[@]}"; do
  cli "$port" FLUSHALL >/dev/null || true
  reply=$(cli "$port" CLUSTER RESET HARD || true)
  [ "$reply" = OK ] || fail "CLUSTER RESET HARD on $HOST:$port failed: $reply"
  cli "$port" FLUSHALL >/dev/null || true
done

nodes=()
for port in "${PORTS[@]}"; do nodes+=("$HOST:$port"); done
mkdir -p "$BASE"
create_log="$BASE/create.log"
if ! timeout 60 redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$create_log" 2>&1; then
  tail -n 10 "$create_log" | sed 's/^/  [create] /' >&2
  fail "redis-cli --cluster create ${nodes[*]} failed (full output in $create_log)"
fi

for _ in $(seq 1 $((READY_TIMEOUT * 10))); do all_ok && break; sleep 0.1; done
if ! all_ok; then
  for port in "${PORTS[@]}"; do echo "  [$port] cluster_state:$(info_field "$port" cluster_state) known_nodes:$(info_field "$port" cluster_known_nodes)" >&2; done
  fail "cluster on ${nodes[*]} did not reach cluster_state:ok within ${READY_TIMEOUT} s"
fi

echo "redis-cluster: started ${#started[@]} node(s) (${started[*]:-none}), reset and created a 3-master cluster on $HOST:${PORTS[0]}-${PORTS[-1]}, cluster_state:ok ($(elapsed))"

#!/usr/bin/env bash
# Smoke test of the docker-compose cluster (a CI phase): builds the image FROM scratch, brings up
# 3 nodes + proxy from nothing, runs a client flow with redis-cli and a task-queue flow with
# redis-py through the proxy, `docker kill`s the node leading one shard while a producer writes
# to that shard, checks that writes continue, restarts the node, checks that every acknowledged
# entry is readable; then stops (SIGTERM) another shard leader the same way and checks that it
# handed its leadership off and that the producer saw no error; and tears everything down
# (volumes included), also on failure.
# usage: deploy/smoke.sh     env: XRAFT_SMOKE_TIMEOUT (s, default 180) per wait
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

command -v docker >/dev/null || die "docker is missing"
command -v docker-compose >/dev/null || die "docker-compose is missing"
command -v redis-cli >/dev/null || die "redis-cli is missing (apt-get install -y redis-tools)"
if ! python3 -c 'import redis' 2>/dev/null; then
  log "installing redis-py from PyPI"
  python3 -m pip install --quiet --disable-pip-version-check redis
fi

project=xraft-smoke-$$
work=$(mktemp -d "${TMPDIR:-/tmp}/xraft-smoke.XXXXXX")
export XRAFT_IMAGE=${XRAFT_IMAGE:-xraft:smoke}
export XRAFT_PROXY_PORT=${XRAFT_PROXY_PORT:-$(free_port)}
export XRAFT_SUBNET_PREFIX=${XRAFT_SUBNET_PREFIX:-172.28.77}
peers="1=$XRAFT_SUBNET_PREFIX.11:7100,2=$XRAFT_SUBNET_PREFIX.12:7100,3=$XRAFT_SUBNET_PREFIX.13:7100"
timeout=${XRAFT_SMOKE_TIMEOUT:-180}
dc() { docker-compose -p "$project" -f deploy/docker-compose.yml "$@"; }
cleanup() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    log "FAILED: last log lines of every container"
    dc logs --no-color --tail=40 >&2 || true
  fi
  dc down -v --remove-orphans >/dev/null 2>&1 || true
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

health_of() { docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$(dc ps -q "$1")" 2>/dev/null || echo missing; }
wait_healthy() {
  local svc=$1 i=0
  while [ "$(health_of "$svc")" != healthy ]; do
    i=$((i + 1))
    [ "$i" -le $((timeout * 2)) ] || die "$svc not healthy after ${timeout}s ($(health_of "$svc"))"
    sleep 0.5
  done
}
ctl() { "$(xraft_bin)" ctl --peers "$peers" --timeout-ms 1000 "$@"; }

banner "smoke: image"
deploy/build-image.sh

banner "smoke: docker-compose up (project $project, proxy on 127.0.0.1:$XRAFT_PROXY_PORT)"
t0=$(date +%s)
dc up -d
for s in n1 n2 n3 proxy; do wait_healthy "$s"; done
log "checked: 3 nodes and the proxy healthy after $(($(date +%s) - t0))s"
ctl status

banner "smoke: redis-cli through the proxy"
rc() { redis-cli -h 127.0.0.1 -p "$XRAFT_PROXY_PORT" "$@"; }
id=$(rc XADD orders '*' item book qty 1)
[[ $id =~ ^[0-9]+-[0-9]+$ ]] || die "XADD replied $id"
[ "$(rc XGROUP CREATE orders workers 0)" = OK ] || die "XGROUP CREATE"
got=$(rc XREADGROUP GROUP workers alice COUNT 10 STREAMS orders '>' | head -n 2 | tail -n 1)
[ "$got" = "$id" ] || die "XREADGROUP delivered '$got', expected $id"
[ "$(rc XPENDING orders workers | head -n 1)" = 1 ] || die "XPENDING count"
[ "$(rc XACK orders workers "$id")" = 1 ] || die "XACK"
[ "$(rc XPENDING orders workers | head -n 1)" = 0 ] || die "XPENDING after XACK"
log "checked: redis-cli XADD $id, XGROUP CREATE, XREADGROUP, XPENDING 1, XACK, XPENDING 0"

banner "smoke: redis-py task queue"
python3 deploy/smoke_flow.py flow --port "$XRAFT_PROXY_PORT"

banner "smoke: docker kill the leader of a shard while a producer writes to it"
key=smoke:events
group=$(ctl group-of "$key")
leader=$(ctl leader --group "$group" | cut -d' ' -f1)
log "$key is in shard $group, led by node $leader"
python3 deploy/smoke_flow.py produce --port "$XRAFT_PROXY_PORT" --key "$key" --seconds 10 \
  --out "$work/acked" &
producer=$!
sleep 3
killed_at=$(date +%s.%N)
docker kill "$(dc ps -q "n$leader")" >/dev/null
log "killed n$leader"
sleep 4
new_leader=$(ctl leader --group "$group" | cut -d' ' -f1 || true)
log "shard $group now led by node ${new_leader:-?}"
[ -n "$new_leader" ] && [ "$new_leader" != "$leader" ] || die "no new leader for shard $group"
dc start "n$leader" >/dev/null
wait "$producer"
wait_healthy "n$leader"
log "n$leader restarted and healthy"
python3 deploy/smoke_flow.py verify --port "$XRAFT_PROXY_PORT" --key "$key" --acked "$work/acked" \
  --after "$killed_at"
ctl status

banner "smoke: docker-compose stop (SIGTERM) the leader of a shard while a producer writes to it"
key=smoke:graceful
group=$(ctl group-of "$key")
python3 deploy/smoke_flow.py produce --port "$XRAFT_PROXY_PORT" --key "$key" --seconds 8 \
  --out "$work/acked-graceful" &
producer=$!
sleep 2
# Asked just before the stop: leadership may have moved since the kill above (a restarted
# node can win an election).
leader=$(ctl leader --group "$group" | cut -d' ' -f1)
log "$key is in shard $group, led by node $leader"
stopped_at=$(date +%s.%N)
t_stop=$(date +%s%N)
dc stop "n$leader" >/dev/null
log "n$leader stopped in $(( ($(date +%s%N) - t_stop) / 1000000 )) ms"
dc logs --no-color "n$leader" >"$work/stopped.log" 2>&1 || true
grep "leadership handed off" "$work/stopped.log" | cut -c1-160 | sed 's/^/    /' || true
grep -q "leadership handed off group=$group " "$work/stopped.log" ||
  die "n$leader did not hand off the leadership of shard $group"
new_leader=$(ctl leader --group "$group" | cut -d' ' -f1 || true)
[ -n "$new_leader" ] && [ "$new_leader" != "$leader" ] || die "no new leader for shard $group"
log "shard $group now led by node $new_leader"
dc start "n$leader" >/dev/null
wait "$producer"
wait_healthy "n$leader"
# A graceful stop refuses writes only as "not applied" while handing off: the proxy retries
# them on the new leader, so the client sees no error at all.
python3 deploy/smoke_flow.py verify --port "$XRAFT_PROXY_PORT" --key "$key" \
  --acked "$work/acked-graceful" --after "$stopped_at" --max-errors 0

banner "smoke: down -v"
dc down -v --remove-orphans >/dev/null
log "smoke test passed in $(($(date +%s) - t0))s"

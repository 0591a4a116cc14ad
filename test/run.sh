#!/usr/bin/env bash
# What `npm test` runs: bring up a cluster of its own (never the developer's .cluster),
# run mocha against it, tear it down.
#
#   bash test/run.sh [mocha args...]
#
#   KEEP_CLUSTER=1           leave the test cluster running afterwards (to poke at it)
#   TEST_CLUSTER_PORT_BASE   its port block (default 16430: PostgreSQL 16432-16440, Redis 16450,
#                            below the kernel's ephemeral ports, which an outgoing connection
#                            could be holding; when another run holds those, 16530, 16630, ...)
set -euo pipefail

REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_DIR"

export CLUSTER_DIR="$REPO_DIR/.cluster-test"
CLUSTER=(bash "$REPO_DIR/shards/local/cluster.sh")

port_taken() { (: <>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
block_taken() { # base: is any port of its block in use?
  local p
  for p in $(seq $(($1 + 2)) $(($1 + 10))) $(($1 + 20)); do port_taken "$p" && return 0; done
  return 1
}

cleanup() {
  local rc=$?
  if [[ ${KEEP_CLUSTER:-0} == 1 ]]; then
    echo "test/run.sh: KEEP_CLUSTER=1: the test cluster keeps running ($CLUSTER_DIR/gateway.json);" \
      "stop it with: CLUSTER_DIR=$CLUSTER_DIR bash shards/local/cluster.sh down --purge"
  else
    "${CLUSTER[@]}" down --purge >/dev/null || echo "test/run.sh: could not tear the test cluster down" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Every run starts clean: whatever a previous run left behind goes first.
"${CLUSTER[@]}" down --purge >/dev/null

# Another checkout's test run on this machine may hold the default block: move over.
if [[ -n ${TEST_CLUSTER_PORT_BASE:-} ]]; then
  export CLUSTER_PORT_BASE=$TEST_CLUSTER_PORT_BASE
else
  CLUSTER_PORT_BASE=16430
  for ((k = 0; k < 10; k++)); do
    block_taken "$CLUSTER_PORT_BASE" || break
    echo "test/run.sh: ports $((CLUSTER_PORT_BASE + 2))-$((CLUSTER_PORT_BASE + 20)) are taken (another test run?); trying $((CLUSTER_PORT_BASE + 100))"
    CLUSTER_PORT_BASE=$((CLUSTER_PORT_BASE + 100))
  done
  export CLUSTER_PORT_BASE
fi
"${CLUSTER[@]}" up

export SHARDGATE_TEST_CLUSTER="$CLUSTER_DIR/gateway.json"
export SHARDGATE_TEST_SPARES="$CLUSTER_DIR/spares.json"

# mocha's own summary says "N passing / N failing / N pending"; a closing
# "N passed, N failed, N skipped" line is added from it, so the result reads the same to
# tools that only know that form. The exit status is mocha's.
out=$(mktemp)
color=()
if [[ -t 1 ]]; then color=(--color); fi
# With no spec among the arguments, the whole suite (whether or not .mocharc.json names it).
spec=('test/**/*.test.ts')
for a in "$@"; do
  if [[ $a != -* && (-d $a || $a == *.test.ts || $a == *.test.js) ]]; then spec=(); fi
done
exec 4> >(tee "$out")
tee_pid=$!
set +e
npx mocha "${color[@]}" "$@" "${spec[@]}" >&4 2>&1
status=$?
set -e
exec 4>&-
# a process a test left behind may hold the pipe open: wait for tee a while, not forever
for ((i = 0; i < 50; i++)); do
  kill -0 "$tee_pid" 2>/dev/null || break
  sleep 0.1
done
summary=$(sed -e 's/\x1b\[[0-9;]*m//g' "$out" | awk '
  /^ *[0-9]+ passing/ { p = $1 }
  /^ *[0-9]+ failing/ { f = $1 }
  /^ *[0-9]+ pending/ { s = $1 }
  END { if (p != "" || f != "") printf "%d passed, %d failed, %d skipped", p, f, s }')
rm -f "$out"
if [[ -n $summary ]]; then echo "mocha: $summary"; fi
exit "$status"

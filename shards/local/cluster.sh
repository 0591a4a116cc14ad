#!/usr/bin/env bash
# Local shardgate cluster: a catalog PostgreSQL, four shards (shard-1..shard-3 in the
# ring, shard-4 a spare), each a primary plus one real streaming replica, and Redis.
#
#   cluster.sh up              start, creating whatever is missing; idempotent
#   cluster.sh down [--purge]  stop what `up` started; --purge also deletes the data
#   cluster.sh status          print each node's state (exit 0 only if all of it runs)
#
# Environment:
#   CLUSTER_DIR        state directory (default <repo>/.cluster)
#   CLUSTER_PORT_BASE  first port of the block (default 55430, or the base the cluster
#                      in CLUSTER_DIR was created with)
#   PG_BIN             PostgreSQL bin directory (default: newest /usr/lib/postgresql/*/bin, >= 15)
#   CLUSTER_MIGRATE=0  leave the schema alone (by default 'up' ends with src/migrate.ts)
#   CLUSTER_INITDB_EACH=1  initdb every primary, instead of copying one initdb'd directory
#                      and giving each copy its own system identifier (see prepare_template)
#
# Ports (base B): catalog B+2; shard-N primary B+1+2N, replica B+2+2N (shard-1 B+3/B+4,
# shard-2 B+5/B+6, shard-3 B+7/B+8, shard-4 B+9/B+10); Redis B+20.
#
# Layout: $CLUSTER_DIR/pg/<node> is each node's data directory (its log: server.log in
# it); $CLUSTER_DIR/redis holds Redis' pidfile and log; $CLUSTER_DIR/logs the output of
# initdb, pg_basebackup and each 'up' step; sockets live in /tmp/shardgate-<hash>. As root,
# PostgreSQL runs as the postgres user (if that user cannot reach CLUSTER_DIR, the data
# goes to /tmp/shardgate-data-<hash>, with $CLUSTER_DIR/pg a symlink to it); as anyone
# else, as that user. Missing PostgreSQL/Redis packages are apt-installed when root.
set -euo pipefail
umask 022

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/../.." && pwd)

# The caller's libpq variables (PGHOST, PGDATABASE, PGOPTIONS, ...) must not reach our clients.
while IFS= read -r _v; do [[ $_v == PG_BIN ]] || unset "$_v"; done < <(compgen -e -X '!PG*')

CLUSTER_DIR=$(realpath -m -- "${CLUSTER_DIR:-$REPO_DIR/.cluster}")
[[ $CLUSTER_DIR != / ]] || { echo "cluster.sh: refusing CLUSTER_DIR=/" >&2; exit 2; }
# Every path below is absolute; running from / keeps the postgres user's tools from
# complaining about a working directory they cannot enter.
cd /

HASH=$(printf '%s' "$CLUSTER_DIR" | md5sum | cut -c1-8)
SOCK_DIR=/tmp/shardgate-$HASH      # short: unix socket paths are limited to ~107 bytes
TMP_DATA=/tmp/shardgate-data-$HASH # the data, when the postgres user cannot reach CLUSTER_DIR
PG_LINK=$CLUSTER_DIR/pg # the nodes' data dirs, or a symlink to where they are
# PG_ROOT: where they really are (the postgres user may not be able to follow PG_LINK)
if [[ -L $PG_LINK ]]; then PG_ROOT=$(readlink -f -- "$PG_LINK"); else PG_ROOT=$PG_LINK; fi
REDIS_DIR=$CLUSTER_DIR/redis
REDIS_PIDFILE=$REDIS_DIR/redis.pid
STATE_FILE=$CLUSTER_DIR/cluster.env
LOG_DIR=$CLUSTER_DIR/logs
# the least-privilege role requests run as (a member of shardgate_request, which the shard
# migrations grant DML on tenant tables under row-level security); its password is made
# once per cluster directory
REQUEST_ROLE=shardgate_app
REQUEST_GROUP=shardgate_request
REQUEST_PASSWORD_FILE=$CLUSTER_DIR/request-role.password

SHARDS=(shard-1 shard-2 shard-3 shard-4)
RING_SHARDS=(shard-1 shard-2 shard-3)
SPARE_SHARDS=(shard-4)
NODES=(catalog shard-1 shard-1-replica shard-2 shard-2-replica shard-3 shard-3-replica shard-4 shard-4-replica)

# PostgreSQL refuses to run as root: as root, its tools run as the postgres user.
if [[ $EUID -eq 0 ]]; then AS_ROOT=1 AS_PG=(runuser -u postgres --); else AS_ROOT=0 AS_PG=(); fi

say() { printf '%s\n' "$*"; }
warn() { printf 'cluster.sh: %s\n' "$*" >&2; }
die() { printf 'cluster.sh: error: %s\n' "$*" >&2; exit 1; }
PROGRESS_T0=$EPOCHREALTIME
# a step of a long command, with the seconds since it began (stderr: stdout is for results)
progress() {
  local us=$((${EPOCHREALTIME/[.,]/} - ${PROGRESS_T0/[.,]/}))
  printf '[%3d.%ds] %s\n' $((us / 1000000)) $((us / 100000 % 10)) "$*" >&2
}

# ---------------------------------------------------------------- ports

declare -A PORT=() DB=() ROLE=()

resolve_port_base() {
  local recorded="" line
  if [[ -f $STATE_FILE ]]; then
    while IFS= read -r line; do
      [[ $line =~ ^CLUSTER_PORT_BASE=([0-9]+)$ ]] && recorded=${BASH_REMATCH[1]}
    done <"$STATE_FILE"
  fi
  if [[ -n ${CLUSTER_PORT_BASE:-} ]]; then
    PORT_BASE=$CLUSTER_PORT_BASE
    if [[ -n $recorded && $recorded != "$PORT_BASE" ]] && compgen -G "$PG_ROOT/*/PG_VERSION" >/dev/null; then
      die "$CLUSTER_DIR was created with CLUSTER_PORT_BASE=$recorded, not $PORT_BASE: use that, or 'down --purge' it first"
    fi
  else
    PORT_BASE=${recorded:-55430}
  fi
  [[ $PORT_BASE =~ ^[0-9]+$ ]] && ((PORT_BASE >= 1024 && PORT_BASE + 20 <= 65535)) \
    || die "CLUSTER_PORT_BASE must be an integer in 1024..65515 (got '$PORT_BASE')"

  PORT[catalog]=$((PORT_BASE + 2)) DB[catalog]=shardgate_catalog ROLE[catalog]=primary
  local n
  for n in 1 2 3 4; do
    PORT[shard-$n]=$((PORT_BASE + 1 + 2 * n)) DB[shard-$n]=shardgate ROLE[shard-$n]=primary
    PORT[shard-$n-replica]=$((PORT_BASE + 2 + 2 * n)) DB[shard-$n-replica]=shardgate ROLE[shard-$n-replica]=replica
  done
  REDIS_PORT=$((PORT_BASE + 20))
  for n in "${PORT[@]}" "$REDIS_PORT"; do
    [[ $n != 5432 && $n != 6379 ]] || die "CLUSTER_PORT_BASE=$PORT_BASE would use port $n (the system PostgreSQL/Redis); pick another"
  done
}

pg_url() { printf 'postgres://postgres@127.0.0.1:%s/%s' "${PORT[$1]}" "${DB[$1]}"; }

# ---------------------------------------------------------------- binaries

pg_major() { "$1/postgres" --version 2>/dev/null | sed -nE '1s/^[^0-9]*([0-9]+).*/\1/p'; }

find_pg_bin() {
  PG_BIN_DIR=""
  local d v best=0 cands=()
  if [[ -n ${PG_BIN:-} ]]; then
    cands=("$PG_BIN")
  else
    for d in /usr/lib/postgresql/*/bin /usr/pgsql-*/bin; do [[ -d $d ]] && cands+=("$d"); done
    if ((${#cands[@]} == 0)); then
      if command -v pg_config >/dev/null 2>&1; then cands+=("$(pg_config --bindir)"); fi
      if command -v initdb >/dev/null 2>&1; then cands+=("$(dirname "$(command -v initdb)")"); fi
    fi
  fi
  for d in "${cands[@]}"; do
    [[ -x $d/initdb && -x $d/pg_ctl && -x $d/pg_basebackup && -x $d/pg_isready && -x $d/psql && -x $d/postgres ]] || continue
    # Debian's layout names the major version; anything else is asked
    if [[ -z ${PG_BIN:-} && $d =~ ^/usr/lib/postgresql/([0-9]+)/bin$ ]]; then v=${BASH_REMATCH[1]}; else v=$(pg_major "$d"); fi
    [[ -n $v ]] && ((v >= 15 && v > best)) || continue
    best=$v PG_BIN_DIR=$d PG_MAJOR=$v
  done
  [[ -n $PG_BIN_DIR ]]
}

find_redis() {
  REDIS_SERVER=$(command -v redis-server 2>/dev/null || true)
  [[ -z $REDIS_SERVER && -x /usr/bin/redis-server ]] && REDIS_SERVER=/usr/bin/redis-server
  [[ -n $REDIS_SERVER ]]
}

ensure_binaries() {
  local need=()
  find_pg_bin || need+=(postgresql)
  find_redis || need+=(redis-server)
  ((${#need[@]} == 0)) && return 0
  if ((AS_ROOT)) && command -v apt-get >/dev/null 2>&1; then
    say "cluster.sh: installing ${need[*]} with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    find_pg_bin || die "no PostgreSQL >= 15 after installing 'postgresql' (row-filtered publications need 15+); set PG_BIN"
    find_redis || die "redis-server is still missing after apt-get install redis-server"
  else
    die "missing: ${need[*]} (PostgreSQL >= 15 server binaries, redis-server). As root: apt-get update && apt-get install -y postgresql redis-server; or set PG_BIN"
  fi
}

# ---------------------------------------------------------------- the postgres user

ensure_pg_user() {
  ((AS_ROOT)) || return 0
  id -u postgres >/dev/null 2>&1 && return 0
  useradd --system --user-group --home-dir /var/lib/postgresql --no-create-home --shell /bin/bash postgres
}

as_pg() { "${AS_PG[@]}" "$@"; }
own_pg() { if ((AS_ROOT)); then chown -R postgres:postgres "$@"; fi; }

psql_at() { # port db [psql args...]   (SQL from -c, or stdin)
  local port=$1 db=$2
  shift 2
  PGOPTIONS='-c client_min_messages=warning' PGCONNECT_TIMEOUT=5 \
    "$PG_BIN_DIR/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d "$db" "$@"
}

# ---------------------------------------------------------------- process checks (builtins only: forks are slow)

proc_alive() { # pid: exists and is not a zombie
  local stat
  { IFS= read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z && ${stat:0:1} != X ]]
}

# Sets PID to the postmaster's pid if a live postmaster runs on data dir $1.
pg_running() {
  local d=$1
  PID=""
  { IFS= read -r PID <"$d/postmaster.pid"; } 2>/dev/null || return 1
  [[ $PID =~ ^[0-9]+$ ]] && proc_alive "$PID" || return 1
  # A pid file left behind by a crash can name a pid since reused by something else:
  # a postmaster's working directory is its data directory (when we may look at it),
  # and its name is postgres.
  if [[ -e /proc/$PID/cwd ]]; then
    [[ /proc/$PID/cwd -ef $d ]]
  else
    local comm=""
    { IFS= read -r comm <"/proc/$PID/comm"; } 2>/dev/null || true
    [[ $comm == postgres || $comm == postmaster ]]
  fi
}

port_in_use() { (: <>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

redis_running() { # sets PID
  local cmd
  PID=""
  { IFS= read -r PID <"$REDIS_PIDFILE"; } 2>/dev/null || return 1
  [[ $PID =~ ^[0-9]+$ ]] && proc_alive "$PID" || return 1
  { IFS= read -r -d '' cmd <"/proc/$PID/cmdline"; } 2>/dev/null || true
  [[ $cmd == *redis* ]]
}

redis_ping() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'PING\r\n' >&3
    IFS= read -r -t 2 line <&3 || exit 1
    [[ $line == +PONG* ]]
  ) 2>/dev/null
}

wait_until() { # seconds description command...
  local secs=$1 what=$2
  shift 2
  local deadline=$((SECONDS + secs))
  until "$@"; do
    ((SECONDS < deadline)) || { warn "timed out after ${secs}s waiting for $what"; return 1; }
    sleep 0.1
  done
}
gone() { ! proc_alive "$1"; }

show_log() { # file
  [[ -f $1 ]] || return 0
  warn "last lines of $1:"
  tail -n 25 "$1" >&2 || true
}

# ---------------------------------------------------------------- layout

# The data lives in $CLUSTER_DIR/pg or, when the postgres user cannot traverse
# CLUSTER_DIR (a checkout under /root, say), in /tmp/shardgate-data-<hash> with
# $CLUSTER_DIR/pg a symlink to it.
prepare_dirs() {
  if [[ ! -d $LOG_DIR || ! -d $REDIS_DIR ]]; then mkdir -p "$CLUSTER_DIR" "$LOG_DIR" "$REDIS_DIR"; fi
  printf 'CLUSTER_PORT_BASE=%s\n' "$PORT_BASE" >"$STATE_FILE"
  if [[ ! -d $SOCK_DIR ]]; then
    mkdir -m 0755 "$SOCK_DIR"
    own_pg "$SOCK_DIR"
  fi

  if [[ -L $PG_LINK ]]; then
    PG_ROOT=$(readlink -m -- "$PG_LINK")
    if [[ ! -d $PG_ROOT ]]; then # /tmp was cleaned: start over there
      mkdir -m 0700 "$PG_ROOT"
      own_pg "$PG_ROOT"
    fi
  elif [[ -d $PG_LINK ]]; then
    PG_ROOT=$PG_LINK
  elif ((AS_ROOT)) && ! runuser -u postgres -- test -x "$CLUSTER_DIR"; then
    rm -rf "$TMP_DATA"
    mkdir -m 0700 "$TMP_DATA"
    own_pg "$TMP_DATA"
    ln -sfn "$TMP_DATA" "$PG_LINK"
    PG_ROOT=$TMP_DATA
    say "cluster.sh: the postgres user cannot reach $CLUSTER_DIR; the data lives in $TMP_DATA"
  else
    mkdir -m 0700 "$PG_LINK"
    own_pg "$PG_LINK"
    PG_ROOT=$PG_LINK
  fi
}

# The WAL archive and base backups, beside the nodes' data (the postgres user must write
# both): $PG_ROOT/.archive/<shard>/ holds each primary's archived WAL (a replica archives
# nothing until it is promoted; then it goes on in its shard's directory), and
# $PG_ROOT/.backups/ the gateway's base backups (POST /admin/backups).
prepare_archive() {
  ARCHIVE_ROOT=$PG_ROOT/.archive
  BACKUP_ROOT=$PG_ROOT/.backups
  mkdir -p -m 0700 "$ARCHIVE_ROOT" "$BACKUP_ROOT"
  # a segment archived twice (the archiver retries after a crash) must be the same file
  cat >"$ARCHIVE_ROOT/archive-wal.sh" <<'EOF'
#!/bin/sh
# archive_command of the local cluster: archive-wal.sh <shard> <path> <file>
set -e
dir=$(dirname "$0")/$1
mkdir -p "$dir"
if [ -f "$dir/$3" ]; then exec cmp -s "$2" "$dir/$3"; fi
cp "$2" "$dir/$3.part"
mv "$dir/$3.part" "$dir/$3"
EOF
  chmod 0755 "$ARCHIVE_ROOT/archive-wal.sh"
  own_pg "$ARCHIVE_ROOT" "$BACKUP_ROOT"
}

pick_locale() {
  if locale -a 2>/dev/null | grep -iE '^c\.utf-?8$' >/dev/null; then echo C.UTF-8; else echo C; fi
}

# Our settings live in shardgate.conf, included at the end of postgresql.conf and
# rewritten by every 'up' (a running node is reloaded when it changed).
write_node_conf() { # name; returns 1 when the file was already up to date
  local name=$1 d=$PG_ROOT/$1 want cur=""
  printf -v want '%s\n' \
    "# Written by shards/local/cluster.sh on every 'up': edits are lost." \
    "cluster_name = '$name'" \
    "listen_addresses = '127.0.0.1'" \
    "port = ${PORT[$name]}" \
    "unix_socket_directories = '$SOCK_DIR'" \
    "fsync = off" \
    "full_page_writes = off" \
    "synchronous_commit = on" \
    "wal_level = logical" \
    "max_wal_senders = 20" \
    "max_replication_slots = 20" \
    "max_logical_replication_workers = 8" \
    "max_worker_processes = 16" \
    "hot_standby = on" \
    "hot_standby_feedback = on" \
    "max_connections = 200" \
    "max_prepared_transactions = 64" \
    "archive_mode = on" \
    "archive_command = '$ARCHIVE_ROOT/archive-wal.sh ${name%-replica} %p %f'" \
    "archive_timeout = 60" \
    "shared_buffers = 64MB" \
    "wal_keep_size = 256MB" \
    "log_destination = 'stderr'" \
    "logging_collector = off" \
    "log_min_messages = warning" \
    "shared_preload_libraries = 'pg_stat_statements,auto_explain'" \
    "pg_stat_statements.track = top" \
    "pg_stat_statements.track_utility = off" \
    "auto_explain.log_min_duration = '1s'" \
    "auto_explain.log_format = json" \
    "auto_explain.log_timing = off"
  { IFS= read -r -d '' cur <"$d/shardgate.conf"; } 2>/dev/null || true
  [[ $cur != "$want" ]] || return 1
  if [[ -f $d/shardgate.conf ]]; then
    printf '%s' "$want" >"$d/shardgate.conf" # keeps its owner
  else
    printf '%s' "$want" >"$d/shardgate.conf"
    chmod 0600 "$d/shardgate.conf"
    own_pg "$d/shardgate.conf"
  fi
  grep -qxF "include_if_exists 'shardgate.conf'" "$d/postgresql.conf" \
    || printf "\n# shardgate local cluster (shards/local/cluster.sh)\ninclude_if_exists 'shardgate.conf'\n" >>"$d/postgresql.conf"
}

write_hba() { # datadir
  cat >"$1/pg_hba.conf" <<'EOF'
# Written by shards/local/cluster.sh: a loopback-only development cluster. The request
# role signs in with its password; the privileged role (postgres) is trusted on loopback.
host    all          shardgate_app  127.0.0.1/32  scram-sha-256
host    all          shardgate_app  ::1/128       scram-sha-256
local   all          all                  trust
host    all          all    127.0.0.1/32  trust
host    all          all    ::1/128       trust
local   replication  all                  trust
host    replication  all    127.0.0.1/32  trust
host    replication  all    ::1/128       trust
EOF
  own_pg "$1/pg_hba.conf"
}

sysid() { as_pg env LC_ALL=C "$PG_BIN_DIR/pg_controldata" -D "$1" 2>/dev/null | sed -nE 's/^Database system identifier: *([0-9]+).*/\1/p'; }

# ---------------------------------------------------------------- node lifecycle

start_node() { # name
  local name=$1 d=$PG_ROOT/$1
  if write_node_conf "$name" && pg_running "$d"; then
    as_pg "$PG_BIN_DIR/pg_ctl" -D "$d" -s reload 9<&- || true
  fi
  pg_running "$d" && return 0
  rm -f "$d/postmaster.pid" # not running: a pid file left now is stale
  if port_in_use "${PORT[$name]}"; then
    die "$name: port ${PORT[$name]} is in use by another process (another cluster on the same CLUSTER_PORT_BASE? a node whose data dir was deleted? 'cluster.sh down' stops those)"
  fi
  # 9<&-: the daemon must not inherit our lock on CLUSTER_DIR. The ports lie in the kernel's
  # ephemeral range, so an outgoing connection may hold one for a moment: try again then.
  local try
  for try in 1 2 3 4 5; do
    as_pg "$PG_BIN_DIR/pg_ctl" -D "$d" -l "$d/server.log" -w -t 90 -s start 9<&- >/dev/null && break
    if ((try < 5)) && tail -n 20 "$d/server.log" 2>/dev/null | grep 'could not bind' >/dev/null; then
      rm -f "$d/postmaster.pid"
      sleep 1
      continue
    fi
    show_log "$d/server.log"
    die "$name: pg_ctl start failed"
  done
}

stop_node() { # datadir
  local d=$1 pid
  pg_running "$d" || return 0
  pid=$PID
  if [[ -n ${PG_BIN_DIR:-} ]]; then
    as_pg "$PG_BIN_DIR/pg_ctl" -D "$d" -m fast -w -t 60 -s stop 9<&- >/dev/null 2>&1 \
      || as_pg "$PG_BIN_DIR/pg_ctl" -D "$d" -m immediate -w -t 30 -s stop 9<&- >/dev/null 2>&1 || true
  else
    kill -INT "$pid" 2>/dev/null || true
  fi
  wait_until 60 "postmaster $pid ($d) to exit" gone "$pid"
}

pg_ready() { "$PG_BIN_DIR/pg_isready" -q -h 127.0.0.1 -p "$1" -t 2; }
# for wait_until: gives up at once when the node's postmaster is gone
node_ready() { # name
  pg_running "$PG_ROOT/$1" || die "$1: the server is not running (see $PG_ROOT/$1/server.log)"
  pg_ready "${PORT[$1]}"
}

run_initdb() { # datadir logname
  as_pg "$PG_BIN_DIR/initdb" -D "$1" -A trust -U postgres --no-sync -E UTF8 \
    --locale="$(pick_locale)" --no-instructions >"$LOG_DIR/$2.initdb.log" 2>&1 \
    || { show_log "$LOG_DIR/$2.initdb.log"; rm -rf "$1"; die "$2: initdb failed"; }
  write_hba "$1"
  grep -qxF "include_if_exists 'shardgate.conf'" "$1/postgresql.conf" \
    || printf "\n# shardgate local cluster (shards/local/cluster.sh)\ninclude_if_exists 'shardgate.conf'\n" >>"$1/postgresql.conf"
}

# initdb costs about a CPU-second per node (most of a cold 'up'); copying one initdb'd
# directory costs a tenth of that. Each copy then gets a system identifier of its own,
# the way PostgreSQL 17's pg_createsubscriber does it: a new identifier in
# global/pg_control (with its CRC-32C), then pg_resetwal, which writes WAL carrying it.
# Nodes must not share one: table-sync slots of logical replication are named after it.
# CLUSTER_INITDB_EACH=1 runs initdb for every node instead.
prepare_template() {
  TEMPLATE=$PG_ROOT/.template
  CLONE=1
  if [[ ${CLUSTER_INITDB_EACH:-0} == 1 ]] || ! command -v node >/dev/null 2>&1; then CLONE=0; fi
  local name missing=0
  for name in catalog "${SHARDS[@]}"; do [[ -f $PG_ROOT/$name/.shardgate-primary ]] || missing=1; done
  if ((missing == 0 || CLONE == 0)); then
    rm -rf "$TEMPLATE"
    return 0
  fi
  [[ -f $TEMPLATE/.shardgate-template ]] && return 0
  rm -rf "$TEMPLATE"
  run_initdb "$TEMPLATE" template
  : >"$TEMPLATE/.shardgate-template"
  own_pg "$TEMPLATE"
}

# Writes a new system identifier into $1/global/pg_control; prints it.
new_sysid() { # datadir
  PG_CONTROL_FILE=$1/global/pg_control node - <<'JS'
const fs = require('node:fs');
const file = process.env.PG_CONTROL_FILE;
const buf = fs.readFileSync(file);
const le = require('node:os').endianness() === 'LE';
const table = new Uint32Array(256); // CRC-32C (Castagnoli, reflected), as pg_crc32c
for (let i = 0; i < 256; i++) {
  let c = i;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  table[i] = c >>> 0;
}
const crc32c = (bytes) => {
  let c = 0xffffffff;
  for (const b of bytes) c = table[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};
// ControlFileData starts with the uint64 identifier and ends with the CRC of all bytes
// before it: find that offset rather than hard-code one version's layout.
let at = -1;
for (let o = 16; o + 4 <= 1024 && at < 0; o += 4) {
  if ((le ? buf.readUInt32LE(o) : buf.readUInt32BE(o)) === crc32c(buf.subarray(0, o))) at = o;
}
if (at < 0) { console.error(`${file}: no CRC found: not a pg_control this understands`); process.exit(1); }
// PostgreSQL's recipe puts seconds in the high 32 bits; the low 32 are random here
const id = (BigInt(Math.floor(Date.now() / 1000)) << 32n) | BigInt(require('node:crypto').randomInt(2 ** 32));
if (le) buf.writeBigUInt64LE(id, 0); else buf.writeBigUInt64BE(id, 0);
const crc = crc32c(buf.subarray(0, at));
if (le) buf.writeUInt32LE(crc, at); else buf.writeUInt32BE(crc, at);
fs.writeFileSync(file, buf);
console.log(id.toString());
JS
}

clone_template() { # datadir name
  local d=$1 name=$2 f items=()
  # all but the WAL: pg_resetwal writes it anew
  for f in "$TEMPLATE"/*; do [[ $f == */pg_wal ]] || items+=("$f"); done
  mkdir -m 0700 "$d" \
    && cp -a "${items[@]}" "$d/" \
    && mkdir -m 0700 "$d/pg_wal" "$d/pg_wal/archive_status" \
    && own_pg "$d" \
    && new_sysid "$d" >"$LOG_DIR/$name.sysid.log" 2>&1 \
    && as_pg "$PG_BIN_DIR/pg_resetwal" -D "$d" >>"$LOG_DIR/$name.sysid.log" 2>&1 \
    && return 0
  show_log "$LOG_DIR/$name.sysid.log"
  warn "$name: copying the template failed; running initdb instead"
  rm -rf "$d"
  return 1
}

init_primary() { # name
  local name=$1 d=$PG_ROOT/$1
  if [[ -f $d/PG_VERSION && -f $d/.shardgate-primary ]]; then return 0; fi
  if [[ -e $d ]]; then
    ! pg_running "$d" || die "$name: $d is running but incomplete; run 'cluster.sh down --purge'"
    warn "$name: removing incomplete data dir $d"
    rm -rf "$d"
  fi
  if ! { ((CLONE)) && [[ -f $TEMPLATE/.shardgate-template ]] && clone_template "$d" "$name"; }; then
    run_initdb "$d" "$name"
  fi
  write_node_conf "$name" || true
  : >"$d/.shardgate-primary"
  own_pg "$d"
  FRESH_PRIMARY=1
}

# One connection when there is nothing to do. hstore goes into template1 first, so that
# every database made from it (shardgate too) has it; CREATE DATABASE may run while
# connected to its template (only *other* sessions block it).
ensure_databases() { # name
  local name=$1 db=${DB[$1]} ext="" roles=""
  if [[ $name != catalog ]]; then
    ext="CREATE EXTENSION IF NOT EXISTS hstore;"
    # roles are cluster-wide and reach the replica by streaming replication
    roles="DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$REQUEST_GROUP') THEN
    CREATE ROLE $REQUEST_GROUP NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$REQUEST_ROLE') THEN
    CREATE ROLE $REQUEST_ROLE LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS IN ROLE $REQUEST_GROUP;
  END IF;
END \$\$;
ALTER ROLE $REQUEST_ROLE PASSWORD '$(request_password)';"
  fi
  psql_at "${PORT[$name]}" template1 >/dev/null <<EOF
$ext
SELECT NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$db') AS need_db \gset
\if :need_db
CREATE DATABASE $db;
\c $db
$ext
\endif
$roles
EOF
}

# hex, so it needs no quoting in SQL, URLs or JSON
request_password() {
  if [[ ! -s $REQUEST_PASSWORD_FILE ]]; then
    (umask 077 && od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$REQUEST_PASSWORD_FILE")
  fi
  cat "$REQUEST_PASSWORD_FILE"
}

ensure_replica() { # shard
  local shard=$1 name=$1-replica pd=$PG_ROOT/$1 rd=$PG_ROOT/$1-replica why=""
  if [[ -e $rd ]] && ! pg_running "$rd"; then
    if [[ ! -f $rd/standby.signal || ! -f $rd/.shardgate-replica ]]; then
      why="incomplete (an interrupted base backup?)"
    elif ((FRESH_PRIMARY)); then
      why="its primary was re-initialised"
    else
      local a b
      a=$(sysid "$pd")
      b=$(sysid "$rd")
      [[ -n $a && $a == "$b" ]] || why="its system identifier ($b) is not its primary's ($a)"
    fi
  elif [[ -e $rd ]] && ((FRESH_PRIMARY)); then
    why="its primary was re-initialised"
  fi
  if [[ -n $why ]]; then
    warn "$name: rebuilding: $why"
    stop_node "$rd"
    rm -rf "$rd"
  fi
  if [[ ! -e $rd ]]; then
    as_pg "$PG_BIN_DIR/pg_basebackup" -h 127.0.0.1 -p "${PORT[$shard]}" -U postgres -D "$rd" \
      -R -X stream -c fast -N >"$LOG_DIR/$name.basebackup.log" 2>&1 \
      || { show_log "$LOG_DIR/$name.basebackup.log"; rm -rf "$rd"; die "$name: pg_basebackup from $shard failed"; }
    # copied from the primary, but not the replica's own
    rm -f "$rd/server.log" "$rd/.shardgate-primary"
    write_node_conf "$name" || true # its own port and cluster_name
    : >"$rd/.shardgate-replica"
    own_pg "$rd"
  fi
  start_node "$name"
}

replica_streaming() { # name
  local r
  pg_running "$PG_ROOT/$1" || die "$1: the server is not running (see $PG_ROOT/$1/server.log)"
  r=$(psql_at "${PORT[$1]}" postgres -c "SELECT pg_is_in_recovery()::text || ',' || coalesce((SELECT status FROM pg_stat_wal_receiver), 'none')" 2>/dev/null) || return 1
  [[ $r == "true,streaming" ]]
}

# One shard (or the catalog), start to finish. Runs in the background, in parallel.
group_up() { # name
  local name=$1
  FRESH_PRIMARY=0
  init_primary "$name"
  start_node "$name"
  # pg_ctl -w waited for a node it started; one found running is asked directly
  if ! ensure_databases "$name" 2>/dev/null; then
    wait_until 60 "$name on port ${PORT[$name]}" node_ready "$name"
    ensure_databases "$name"
  fi
  if [[ $name != catalog ]]; then
    local r=$name-replica
    ensure_replica "$name"
    # answers (pg_isready's question), is in recovery, and its WAL receiver streams
    wait_until 60 "$r to stream from $name" replica_streaming "$r" \
      || { show_log "$PG_ROOT/$r/server.log"; die "$r: not streaming from $name"; }
  fi
}

redis_up() {
  if redis_running; then
    wait_until 10 "redis on port $REDIS_PORT" redis_ping "$REDIS_PORT" && return 0
    die "redis: process $PID runs but does not answer on port $REDIS_PORT"
  fi
  rm -f "$REDIS_PIDFILE"
  ! port_in_use "$REDIS_PORT" || die "redis: port $REDIS_PORT is in use by another process"
  "$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --daemonize yes --pidfile "$REDIS_PIDFILE" --dir "$REDIS_DIR" \
    --logfile "$REDIS_DIR/redis.log" 9<&- >/dev/null
  wait_until 15 "redis on port $REDIS_PORT" redis_ping "$REDIS_PORT" \
    || { show_log "$REDIS_DIR/redis.log"; die "redis did not start"; }
}

redis_down() {
  local pid
  redis_running || { rm -f "$REDIS_PIDFILE"; return 0; }
  pid=$PID
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_until 15 "redis ($pid) to exit" gone "$pid"; then
    kill -KILL "$pid" 2>/dev/null || true
    wait_until 5 "redis ($pid) to die" gone "$pid" || true
  fi
  rm -f "$REDIS_PIDFILE"
}

# Processes of ours whose state dir is gone (CLUSTER_DIR deleted under a running
# cluster): a postmaster or redis-server whose working directory is, or was, ours.
sweep_orphans() {
  local p exe pp pids=() cands pgr rd
  pgr=$(realpath -m -- "$PG_LINK")
  rd=$(realpath -m -- "$REDIS_DIR")
  cands=$(find /proc/[0-9]*/cwd -maxdepth 0 \( -lname "$pgr/*" -o -lname "$TMP_DATA/*" \
    -o -lname "$rd" -o -lname "$rd (deleted)" \) -printf '%h\n' 2>/dev/null | sed 's|^/proc/||' || true)
  for p in $cands; do
    { IFS= read -r -d '' exe <"/proc/$p/cmdline"; } 2>/dev/null || true
    case $exe in
      */postgres | postgres | */postmaster)
        # the postmaster only: its parent does not share its working directory
        pp=$(awk '/^PPid:/ {print $2}' "/proc/$p/status" 2>/dev/null) || continue
        [[ /proc/$pp/cwd -ef /proc/$p/cwd ]] || pids+=("$p:INT")
        ;;
      redis-server* | */redis-server*) pids+=("$p:TERM") ;;
    esac
  done
  ((${#pids[@]})) || return 0
  for p in "${pids[@]}"; do
    warn "stopping orphaned process ${p%%:*} (its data dir was removed)"
    kill "-${p##*:}" "${p%%:*}" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do
    wait_until 30 "process ${p%%:*} to exit" gone "${p%%:*}" || kill -KILL "${p%%:*}" 2>/dev/null || true
  done
}

# Before any work: a port another process holds would fail a node only after its initdb.
check_ports() {
  local name busy=()
  for name in "${NODES[@]}"; do
    pg_running "$PG_ROOT/$name" && continue
    if port_in_use "${PORT[$name]}"; then busy+=("$name:${PORT[$name]}"); fi
  done
  if ! redis_running && port_in_use "$REDIS_PORT"; then busy+=("redis:$REDIS_PORT"); fi
  ((${#busy[@]} == 0)) || die "ports held by other processes: ${busy[*]}. Another cluster on CLUSTER_PORT_BASE=$PORT_BASE? Pick another base, or stop it ('cluster.sh down' also stops the servers of a cluster whose directory was deleted)"
}

lock_cluster() {
  command -v flock >/dev/null 2>&1 || return 0
  exec 9<"$CLUSTER_DIR"
  flock -w 300 9 || die "another cluster.sh is busy with $CLUSTER_DIR"
}

# ---------------------------------------------------------------- output

# primary/replicas: the request role (what the gateway serves tenants with); admin: the
# same nodes as postgres (moves, migrations, export/import, and tools inspecting rows)
json_shard() { # id
  local who="$REQUEST_ROLE:$(request_password)"
  printf '{"id": "%s", "primary": "postgres://%s@127.0.0.1:%s/%s", "replicas": ["postgres://%s@127.0.0.1:%s/%s"], "admin": {"primary": "postgres://postgres@127.0.0.1:%s/%s", "replicas": ["postgres://postgres@127.0.0.1:%s/%s"]}}' \
    "$1" "$who" "${PORT[$1]}" "${DB[$1]}" "$who" "${PORT[$1-replica]}" "${DB[$1-replica]}" \
    "${PORT[$1]}" "${DB[$1]}" "${PORT[$1-replica]}" "${DB[$1-replica]}"
}

# Written whole, then renamed into place: a reader never sees half a file.
write_json() {
  local tmp id sep
  tmp=$CLUSTER_DIR/.gateway.json.$$
  {
    printf '{\n  "catalog": "postgres://postgres@127.0.0.1:%s/%s",\n  "redis": "redis://127.0.0.1:%s",\n  "shards": [' \
      "${PORT[catalog]}" "${DB[catalog]}" "$REDIS_PORT"
    sep=""
    for id in "${RING_SHARDS[@]}"; do printf '%s\n    ' "$sep"; json_shard "$id"; sep=","; done
    printf '\n  ],\n  "backups": {"dir": "%s", "archiveDir": "%s", "pgBinDir": "%s", "osUser": "postgres"}\n}\n' \
      "$BACKUP_ROOT" "$ARCHIVE_ROOT" "$PG_BIN_DIR"
  } >"$tmp"
  mv -f "$tmp" "$CLUSTER_DIR/gateway.json"

  tmp=$CLUSTER_DIR/.spares.json.$$
  {
    printf '['
    sep=""
    for id in "${SPARE_SHARDS[@]}"; do printf '%s\n  ' "$sep"; json_shard "$id"; sep=","; done
    printf '\n]\n'
  } >"$tmp"
  mv -f "$tmp" "$CLUSTER_DIR/spares.json"
}

print_nodes() { # [--query]; returns 0 if everything runs
  local query=0 name d state all=0 extra url
  [[ ${1:-} == --query ]] && query=1
  for name in "${NODES[@]}"; do
    d=$PG_ROOT/$name
    extra=""
    if pg_running "$d"; then
      state="running pid $PID"
      if ((query)) && [[ ${ROLE[$name]} == replica && -n ${PG_BIN_DIR:-} ]]; then
        extra=$(psql_at "${PORT[$name]}" postgres -c "SELECT 'recovery=' || pg_is_in_recovery() || ' wal_receiver=' || coalesce((SELECT status FROM pg_stat_wal_receiver), 'none')" 2>/dev/null) \
          || extra="not answering"
      fi
    elif [[ -f $d/PG_VERSION ]]; then
      state="stopped" all=1
    else
      state="absent" all=1
    fi
    url=$(pg_url "$name")
    printf '%-16s %-8s 127.0.0.1:%-6s %-17s %s %s\n' "$name" "${ROLE[$name]}" "${PORT[$name]}" "$state" "$url" "$extra"
  done
  if redis_running; then state="running pid $PID"; else state="stopped" all=1; fi
  printf '%-16s %-8s 127.0.0.1:%-6s %-17s %s\n' redis "" "$REDIS_PORT" "$state" "redis://127.0.0.1:$REDIS_PORT"
  return $all
}

# The fleet's schema: the catalog's migrations, then the shards' rolled out by the schema
# rollout engine (src/migrate.ts, the same as the Kubernetes migration Job): gateways do
# not migrate shards as they start. The spare shards are migrated when they are added.
migrate_fleet() {
  [[ ${CLUSTER_MIGRATE:-1} == 1 ]] || return 0
  local out=$LOG_DIR/migrate.log
  [[ -d $REPO_DIR/node_modules/tsx ]] || die "cannot migrate the fleet: run npm install first (then cluster.sh up again)"
  # and a first base backup of every shard (CLUSTER_BACKUP=0 skips it)
  local backup=(--first-backup)
  [[ ${CLUSTER_BACKUP:-1} == 1 ]] || backup=()
  if ! (cd "$REPO_DIR" && GATEWAY_CONFIG="$CLUSTER_DIR/gateway.json" LOG_LEVEL=warn node --import tsx src/migrate.ts "${backup[@]}") >"$out" 2>&1; then
    cat "$out" >&2
    die "migrating the fleet failed (log: $out)"
  fi
}

# ---------------------------------------------------------------- commands

cmd_up() {
  local t0=$EPOCHREALTIME name rc failed=()
  resolve_port_base
  ensure_binaries
  ensure_pg_user
  mkdir -p "$CLUSTER_DIR"
  lock_cluster
  check_ports
  prepare_dirs
  prepare_archive

  local -A jobs=()
  request_password >/dev/null # made once, before the parallel jobs read it
  redis_up >"$LOG_DIR/redis.up.log" 2>&1 &
  jobs[redis]=$!
  progress "initdb of a template the nodes are copied from (PostgreSQL $PG_MAJOR in $PG_BIN_DIR)"
  prepare_template
  for name in "${SHARDS[@]}" catalog; do
    group_up "$name" >"$LOG_DIR/$name.up.log" 2>&1 &
    jobs[$name]=$!
  done
  # progress on stderr as each part is up (stdout keeps the node table)
  local -A pending=()
  local pid finished=0
  for name in "${!jobs[@]}"; do pending[${jobs[$name]}]=$name; done
  progress "starting ${#jobs[@]} parts: catalog, ${SHARDS[*]} (each a primary and a streaming replica) and redis"
  while ((${#pending[@]} > 0)); do
    rc=0
    wait -n -p pid "${!pending[@]}" || rc=$?
    name=${pending[$pid]}
    unset "pending[$pid]"
    finished=$((finished + 1))
    if ((rc == 0)); then progress "$name up ($finished/${#jobs[@]})"; else progress "$name FAILED ($finished/${#jobs[@]})"; failed+=("$name"); fi
  done
  rm -rf "$TEMPLATE"
  for name in catalog "${SHARDS[@]}" redis; do
    # warnings (rebuilt replicas, ...) are worth seeing on success too
    if [[ -s $LOG_DIR/$name.up.log ]]; then sed "s/^/[$name] /" "$LOG_DIR/$name.up.log" >&2; fi
  done
  ((${#failed[@]} == 0)) || die "up failed for: ${failed[*]} (logs: $LOG_DIR; each node's: $PG_ROOT/<node>/server.log)"

  write_json
  print_nodes || die "not everything runs after 'up'"
  if [[ ${CLUSTER_MIGRATE:-1} == 1 ]]; then
    progress "migrating the catalog and every shard$([[ ${CLUSTER_BACKUP:-1} == 1 ]] && printf ', then a first base backup of each')"
  fi
  migrate_fleet
  local us=$((${EPOCHREALTIME/[.,]/} - ${t0/[.,]/}))
  printf 'cluster up in %d.%ds: %s/gateway.json, %s/spares.json (PostgreSQL %s, sockets in %s)\n' \
    $((us / 1000000)) $((us / 100000 % 10)) \
    "$CLUSTER_DIR" "$CLUSTER_DIR" "$PG_MAJOR" "$SOCK_DIR"
}

cmd_down() {
  local purge=0 arg d pids=() count=0 p rc=0
  for arg in "$@"; do
    case $arg in
      --purge) purge=1 ;;
      *) die "down: unknown argument '$arg'" ;;
    esac
  done
  find_pg_bin || PG_BIN_DIR=""
  if [[ -d $CLUSTER_DIR ]]; then
    lock_cluster
    for d in "$PG_ROOT"/*; do
      [[ -f $d/PG_VERSION ]] && pg_running "$d" || continue
      count=$((count + 1))
      stop_node "$d" &
      pids+=($!)
    done
    if redis_running; then
      count=$((count + 1))
      redis_down &
      pids+=($!)
    fi
    for p in "${pids[@]}"; do wait "$p" || rc=1; done
    ((rc == 0)) || die "some nodes did not stop"
  fi
  sweep_orphans
  say "cluster.sh: stopped $count server(s) of $CLUSTER_DIR"

  if ((purge)); then
    local target=""
    if [[ -L $PG_LINK ]]; then
      target=$(readlink -m -- "$PG_LINK")
      rm -f "$PG_LINK"
      if [[ $target == /tmp/shardgate-data-* ]]; then rm -rf "$target"; fi
    else
      rm -rf "$PG_LINK"
    fi
    rm -rf "$TMP_DATA" "$REDIS_DIR" "$LOG_DIR" "$SOCK_DIR"
    rm -f "$CLUSTER_DIR/gateway.json" "$CLUSTER_DIR/spares.json" "$STATE_FILE" "$REQUEST_PASSWORD_FILE" \
      "$CLUSTER_DIR"/.gateway.json.* "$CLUSTER_DIR"/.spares.json.*
    if [[ -d $CLUSTER_DIR ]] && ! rmdir "$CLUSTER_DIR" 2>/dev/null; then
      warn "left $CLUSTER_DIR in place: it holds files cluster.sh did not make"
    fi
    say "cluster.sh: purged $CLUSTER_DIR"
  fi
}

cmd_status() {
  resolve_port_base
  find_pg_bin || { PG_BIN_DIR=""; warn "no PostgreSQL >= 15 binaries found"; }
  say "cluster $CLUSTER_DIR (port base $PORT_BASE)"
  print_nodes --query || exit 3
}

case ${1:-} in
  up) shift; (($# == 0)) || die "up takes no arguments"; cmd_up ;;
  down) shift; cmd_down "$@" ;;
  status) shift; (($# == 0)) || die "status takes no arguments"; cmd_status ;;
  *) echo "usage: $0 up | down [--purge] | status" >&2; exit 2 ;;
esac

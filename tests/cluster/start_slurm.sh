#!/usr/bin/env bash
# A real single-node SLURM cluster on this machine, for tests/test_slurm.py and for trying
# the SLURM profile by hand: munge + slurmctld + slurmd from the Debian packages, one node
# (this host, its CPUs and memory), one default partition, no slurmdbd.
#
#   sudo tests/cluster/start_slurm.sh          # install if needed, configure, start, wait
#   tests/cluster/start_slurm.sh --stop        # stop the daemons (state and config stay)
#
# The partition is called "debug" (MFNPE_SLURM_PARTITION=name to change it); logs and the
# job completion records are in /var/log/slurm, the state in /var/lib/slurm.
#
# Idempotent: when the daemons already run with the configuration this script writes and
# the node is up, it returns at once. It installs packages (apt-get) only when a daemon or
# client is missing. Exit status: 0 = the cluster is up; 77 = it cannot be set up here
# (not root, no apt-get, package installation failed, a SLURM configuration that this
# script did not write); anything else = it was set up but did not come up (see the logs
# named in the message).
#
# What the test cluster is configured for (and why):
#   SelectType=select/cons_tres + CR_Core_Memory   cores and memory are both consumable, so
#                                                  a job's --mem is honoured when packing
#   ProctrackType=proctrack/linuxproc, TaskPlugin=task/none
#                                                  no cgroups needed (containers, VMs)
#   AccountingStorageType=accounting_storage/none  no slurmdbd; `sacct` cannot report jobs,
#                                                  so the executor plugin is told to poll
#                                                  `squeue` (--slurm-status-command squeue)
#   MinJobAge=600                                  finished jobs stay visible to `squeue`
#                                                  for 10 minutes (the plugin needs more than
#                                                  3x its first status-check delay)
#   JobCompType=jobcomp/filetxt                    one line per finished job in
#                                                  $JOBCOMP_LOG: the test's record of what
#                                                  ran through SLURM
set -euo pipefail

CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
MARKER="# written by mfnpe-hh tests/cluster/start_slurm.sh"
STATE_DIR=/var/lib/slurm
LOG_DIR=/var/log/slurm
JOBCOMP_LOG=$LOG_DIR/jobcomp.log
CTLD_PID=/run/slurmctld.pid
SLURMD_PID=/run/slurmd.pid
PARTITION=${MFNPE_SLURM_PARTITION:-debug}
PACKAGES=(munge slurmctld slurmd slurm-client)

log() { echo "start_slurm: $*" >&2; }
unavailable() { log "$*"; exit 77; }
fail() {
    log "$*"
    for f in "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log" /var/log/munge/munged.log; do
        [[ -f $f ]] && { log "--- last lines of $f"; tail -n 15 "$f" >&2; }
    done
    exit 1
}

alive() { [[ -f $1 ]] && kill -0 "$(cat "$1" 2>/dev/null)" 2>/dev/null; }

node_name() { hostname -s; }

# The node's state as sinfo reports it (idle, mixed, allocated, down*, ...); empty if the
# controller does not answer.
node_state() { timeout 10 sinfo -h -n "$(node_name)" -o %T 2>/dev/null | head -n 1 || true; }

node_up() { [[ $(node_state) =~ ^(idle|mixed|allocated|completing)$ ]]; }

stop_daemons() {
    local pidfile pid
    for pidfile in "$SLURMD_PID" "$CTLD_PID"; do
        if alive "$pidfile"; then
            pid=$(cat "$pidfile")
            kill "$pid"
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        fi
    done
}

if [[ ${1:-} == --stop ]]; then
    stop_daemons
    exit 0
fi

# One call at a time: the test session starts one in the background (tests/conftest.py)
# and the SLURM test's call waits here for it, then takes the fast path. The daemons are
# started with fd 9 closed (9>&-): one that inherited it would hold the lock for ever.
exec 9>"${TMPDIR:-/tmp}/mfnpe-start-slurm.lock"
flock 9

# --- the configuration this host gets ---------------------------------------------------
ensure_installed() {
    local missing=()
    command -v munged >/dev/null || missing+=(munge)
    command -v slurmctld >/dev/null || missing+=(slurmctld)
    command -v slurmd >/dev/null || missing+=(slurmd)
    command -v sbatch >/dev/null && command -v squeue >/dev/null && command -v sinfo >/dev/null \
        || missing+=(slurm-client)
    [[ ${#missing[@]} -eq 0 ]] && return 0
    command -v apt-get >/dev/null || unavailable "SLURM is not installed and there is no apt-get"
    log "installing ${PACKAGES[*]} (apt-get)"
    # Keep the packages' init scripts from starting daemons without a configuration.
    local policy=/usr/sbin/policy-rc.d created_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy"
        chmod 755 "$policy"
        created_policy=1
    fi
    local status=0
    {
        DEBIAN_FRONTEND=noninteractive apt-get update -qq \
            && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                "${PACKAGES[@]}"
    } >&2 || status=$?
    [[ $created_policy == 1 ]] && rm -f "$policy"
    [[ $status == 0 ]] || unavailable "apt-get could not install ${PACKAGES[*]} (exit $status)"
}

write_config() {
    # slurmd -C: this host's CPUs, sockets, cores, threads and memory, as SLURM counts them.
    local hw mem node
    node=$(node_name)
    hw=$(slurmd -C 2>/dev/null | head -n 1) || true
    [[ $hw == NodeName=* ]] || fail "slurmd -C did not describe this host: '$hw'"
    mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$hw")
    # a little below what is there: a node with less memory than configured is drained
    hw=$(sed "s/RealMemory=[0-9]*/RealMemory=$((mem * 95 / 100))/; s/^NodeName=[^ ]*/NodeName=$node/" <<<"$hw")
    cat <<EOF
$MARKER
# A single-node test cluster on $node; regenerated on every call.
ClusterName=mfnpe
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$JOBCOMP_LOG
MinJobAge=600
ReturnToService=2
SlurmctldTimeout=60
SlurmdTimeout=120
InactiveLimit=0
KillWait=10
Waittime=0
StateSaveLocation=$STATE_DIR/slurmctld
SlurmdSpoolDir=$STATE_DIR/slurmd
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
$hw NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

ensure_munge() {
    install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
    install -d -o munge -g munge -m 0755 /run/munge
    if [[ ! -s /etc/munge/munge.key ]]; then
        log "creating /etc/munge/munge.key"
        if command -v mungekey >/dev/null; then
            mungekey --create --keyfile=/etc/munge/munge.key --force
        else
            dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
        fi
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
    if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        stale=$(cat /run/munge/munged.pid 2>/dev/null || true)
        [[ -n $stale ]] && kill "$stale" 2>/dev/null || true
        rm -f /run/munge/munged.pid
        log "starting munged"
        runuser -u munge -- /usr/sbin/munged 9>&- || fail "munged did not start"
        for _ in $(seq 50); do
            munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && return 0
            sleep 0.2
        done
        fail "munge does not work (munge -n | unmunge)"
    fi
}

# --- main ---------------------------------------------------------------------------------
if [[ -f $CONF ]] && grep -qxF "$MARKER" "$CONF" && alive "$CTLD_PID" && alive "$SLURMD_PID" \
        && node_up; then
    exit 0  # fast path: already running (the config is checked below only when starting)
fi

if [[ $(id -u) != 0 ]]; then
    node_up && exit 0
    unavailable "not root: cannot install or start SLURM (run this script as root)"
fi

if [[ -f $CONF ]] && ! grep -qxF "$MARKER" "$CONF"; then
    unavailable "$CONF exists and was not written by this script; not touching it"
fi

ensure_installed
ensure_munge

install -d -m 0755 "$CONF_DIR" "$LOG_DIR" "$STATE_DIR" "$STATE_DIR/slurmctld" "$STATE_DIR/slurmd"
new_conf=$(write_config)
if [[ ! -f $CONF ]] || [[ $(cat "$CONF") != "$new_conf" ]]; then
    log "writing $CONF"
    stop_daemons  # they must re-read it
    printf '%s\n' "$new_conf" > "$CONF"
fi
touch "$JOBCOMP_LOG"

if ! alive "$CTLD_PID"; then
    log "starting slurmctld"
    slurmctld 9>&- || fail "slurmctld did not start"
fi
for _ in $(seq 100); do
    timeout 5 scontrol ping 2>/dev/null | grep -q UP && break
    sleep 0.2
done
timeout 5 scontrol ping 2>/dev/null | grep -q UP || fail "slurmctld does not answer (scontrol ping)"

if ! alive "$SLURMD_PID"; then
    log "starting slurmd"
    slurmd 9>&- || fail "slurmd did not start"
fi

# Wait for the node to register; resume it if an earlier state left it down or drained.
for i in $(seq 150); do
    state=$(node_state)
    [[ $state =~ ^(idle|mixed|allocated|completing)$ ]] && { log "node $(node_name): $state"; exit 0; }
    if [[ $state =~ ^(down|drain|drained|draining|fail)  && $((i % 10)) == 0 ]]; then
        scontrol update NodeName="$(node_name)" State=RESUME 2>/dev/null || true
    fi
    sleep 0.2
done
fail "node $(node_name) is not up after 30 s (sinfo state: '$(node_state)')"

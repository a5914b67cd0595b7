# shellcheck shell=bash
# A one-node Slurm cluster for the tests: munged, slurmctld and slurmd started directly (no
# systemd), configured by /etc/slurm/slurm.conf written here. Installs nothing: slurm-wlm and
# munge come from scripts/apt-packages.txt.
#
# start_test_slurm: idempotent. When the node already answers `sinfo`, nothing is started.
#   Exports COURTYARD_TEST_SLURM=1 when the cluster is up (tests/slurm skip without it).
# stop_test_slurm: stops only the daemons start_test_slurm started (by their pid files).
#
# The config is ours only if it carries SLURM_MARKER; an existing foreign slurm.conf is never
# overwritten (the tests then use that cluster as it is, if `sinfo` shows a node).

SLURM_CONF_PATH=/etc/slurm/slurm.conf
SLURM_MARKER="# written by courtyard scripts/lib/slurm.sh"
SLURM_DIR=/var/spool/courtyard-slurm
SLURM_PARTITION=courtyard
SLURM_HIGH_PARTITION=courtyard-high   # same node, higher PriorityTier: its jobs preempt
SLURM_STARTED=()   # pid files of the daemons started here

slurm_installed() {
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
    && command -v munged >/dev/null && command -v sbatch >/dev/null
}

# The node answers and is usable (idle, mixed or allocated: anything but down/drained).
slurm_node_ready() {
  local state
  state=$(timeout 5 sinfo -h -N -p "$SLURM_PARTITION" -o '%T' 2>/dev/null | head -n 1) || return 1
  [[ $state =~ ^(idle|mixed|allocated|completing)$ ]]
}

slurm_write_conf() {
  local node cpus memory
  node=$(hostname -s)
  cpus=$(nproc)
  # RealMemory a little under the total, in MB, as slurmd -C would report it
  memory=$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.95}' /proc/meminfo)
  mkdir -p /etc/slurm "$SLURM_DIR/state" "$SLURM_DIR/slurmd" "$SLURM_DIR/log"
  cat >"$SLURM_CONF_PATH.tmp" <<EOF
$SLURM_MARKER
# One node for the tests. No cgroup plugins: cgroup v2 here has no controllers delegated.
ClusterName=courtyard
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
StateSaveLocation=$SLURM_DIR/state
SlurmdSpoolDir=$SLURM_DIR/slurmd
SlurmctldPidFile=$SLURM_DIR/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/slurmd.pid
SlurmctldLogFile=$SLURM_DIR/log/slurmctld.log
SlurmdLogFile=$SLURM_DIR/log/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# quick tests: time limits enforced at once, short grace between SIGTERM and SIGKILL,
# finished jobs remembered for 10 minutes (squeue/scontrol show their end state)
# Preemption: a job in $SLURM_HIGH_PARTITION (PriorityTier 10) that needs the CPUs cancels
# jobs of $SLURM_PARTITION (PriorityTier 1); they end in state PREEMPTED.
PreemptType=preempt/partition_prio
PreemptMode=CANCEL
OverTimeLimit=0
KillWait=5
MinJobAge=600
InactiveLimit=0
SlurmdTimeout=60
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=$SLURM_PARTITION Nodes=$node Default=YES MaxTime=24:00:00 State=UP PriorityTier=1
PartitionName=$SLURM_HIGH_PARTITION Nodes=$node MaxTime=24:00:00 State=UP PriorityTier=10
EOF
  chmod 644 "$SLURM_CONF_PATH.tmp"
  if cmp -s "$SLURM_CONF_PATH.tmp" "$SLURM_CONF_PATH"; then
    rm -f "$SLURM_CONF_PATH.tmp"
    return 0
  fi
  mv "$SLURM_CONF_PATH.tmp" "$SLURM_CONF_PATH"
  slurm_reconfigure
}

# A changed slurm.conf reaches daemons that already run (left by an earlier run) through
# `scontrol reconfigure`; when slurmctld does not answer, it reads the file as it starts.
slurm_reconfigure() {
  timeout 5 scontrol ping >/dev/null 2>&1 || return 0
  timeout 15 scontrol reconfigure >/dev/null 2>&1 \
    || warn "scontrol reconfigure failed: the running Slurm keeps its old configuration"
}

slurm_start_munged() {
  if [[ -S /run/munge/munge.socket.2 ]] && munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
    return 0
  fi
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge: /run/munge /var/log/munge /var/lib/munge
  chmod 0755 /run/munge
  if [[ ! -s /etc/munge/munge.key ]]; then
    runuser -u munge -- mungekey --create --keyfile=/etc/munge/munge.key >/dev/null \
      || die "could not create the munge key"
  fi
  chown munge: /etc/munge/munge.key
  chmod 0400 /etc/munge/munge.key
  runuser -u munge -- /usr/sbin/munged || die "munged did not start (see /var/log/munge)"
  SLURM_STARTED+=(/run/munge/munged.pid)
}

# $1: the daemon, $2: its pid file. Started in the background (they daemonize themselves).
slurm_start_daemon() {
  local daemon=$1 pidfile=$2
  if [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    return 0
  fi
  "/usr/sbin/$daemon" -f "$SLURM_CONF_PATH" || die "$daemon did not start (see $SLURM_DIR/log)"
  SLURM_STARTED+=("$pidfile")
}

slurm_wait_ready() {
  local deadline=$((SECONDS + 60))
  until slurm_node_ready; do
    if ((SECONDS > deadline)); then
      sinfo -N -l >&2 || true
      tail -n 20 "$SLURM_DIR/log/slurmctld.log" "$SLURM_DIR/log/slurmd.log" >&2 || true
      die "the Slurm node did not become idle within 60s"
    fi
    # a node left down by an earlier run comes back with ReturnToService=2 once slurmd
    # registers; resume it explicitly in case it was drained
    scontrol update NodeName="$(hostname -s)" State=RESUME >/dev/null 2>&1 || true
    sleep 0.5
  done
}

start_test_slurm() {
  if ! slurm_installed; then
    warn "Slurm is not installed: the Slurm tests will skip (or fail with CI=true)"
    return 0
  fi
  if ! is_root; then
    warn "not root: cannot start Slurm; the Slurm tests will skip"
    return 0
  fi
  if [[ -f $SLURM_CONF_PATH ]] && ! grep -qF "$SLURM_MARKER" "$SLURM_CONF_PATH"; then
    warn "$SLURM_CONF_PATH was not written by Courtyard: using that cluster as it is"
  else
    slurm_write_conf
  fi
  slurm_start_munged
  slurm_start_daemon slurmctld "$SLURM_DIR/slurmctld.pid"
  slurm_start_daemon slurmd "$SLURM_DIR/slurmd.pid"
  slurm_wait_ready
  export COURTYARD_TEST_SLURM=1
  say "slurm: $(sinfo -h -N -o '%N %c CPUs %T' | head -n 1) (partition $SLURM_PARTITION, logs in $SLURM_DIR/log)"
}

stop_test_slurm() {
  local pidfile pid i
  for ((i = ${#SLURM_STARTED[@]} - 1; i >= 0; i--)); do
    pidfile=${SLURM_STARTED[i]}
    [[ -f $pidfile ]] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  done
  SLURM_STARTED=()
}

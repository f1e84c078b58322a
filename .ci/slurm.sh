#!/usr/bin/env bash
# A single-node Slurm on this machine for the Slurm tests (test/sweep-slurm.test.ts), started by
# hand (no systemd), as root: munged (as user munge), slurmctld and slurmd. Idempotent.
#   .ci/slurm.sh start   write the configuration if needed, start what is not running, wait until
#                        the node is idle (bounded)
#   .ci/slurm.sh stop    stop the daemons this script started, by their pid files
# State, pid files and logs live in $POISON_SLURM_STATE (default /var/tmp/poison-slurm).
set -euo pipefail
STATE=${POISON_SLURM_STATE:-/var/tmp/poison-slurm}
CONF=/etc/slurm/slurm.conf
MARK='# written by poison .ci/slurm.sh'

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
  mkdir -p "$STATE/ctld" "$STATE/spool" "$STATE/log" /etc/slurm
  # munge: a key if there is none, then munged as its own user.
  install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
  install -d -o munge -g munge -m 0755 /run/munge
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
    chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
  fi
  alive /run/munge/munged.pid || runuser -u munge -- /usr/sbin/munged
  # slurm.conf for this host: written once, never over one this script did not write.
  if [ ! -e "$CONF" ] || head -1 "$CONF" | grep -qxF "$MARK"; then
    local node host
    node=$(slurmd -C | head -1)
    host=$(hostname -s)
    cat > "$CONF.tmp" <<CONF
$MARK
ClusterName=poisonci
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
# scancel: SIGTERM, then SIGKILL 10 s later (what the requeue-safety tests rely on).
KillWait=10
MinJobAge=300
$node State=UNKNOWN
# Up to 4 jobs share a core: the tests' small arrays do not queue behind each other on 2 cores.
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF
    if cmp -s "$CONF.tmp" "$CONF"; then
      rm "$CONF.tmp"
    else
      mv "$CONF.tmp" "$CONF"
      # Running already with an older configuration: take the new one.
      if alive "$STATE/slurmctld.pid"; then scontrol reconfigure; fi
    fi
  fi
  alive "$STATE/slurmctld.pid" || slurmctld
  alive "$STATE/slurmd.pid" || slurmd
  local host
  host=$(hostname -s)
  for _ in $(seq 60); do
    state=$(sinfo -h -n "$host" -o %T 2>/dev/null || true)
    case "$state" in
      idle*|mixed*|allocated*) echo "slurm: node $host $state"; return 0 ;;
      down*|drain*) scontrol update nodename="$host" state=resume 2>/dev/null || true ;;
    esac
    sleep 1
  done
  echo "slurm: node $host not idle after 60 s (state: ${state:-none}); see $STATE/log" >&2
  return 1
}

stop() {
  for pidfile in "$STATE/slurmd.pid" "$STATE/slurmctld.pid" /run/munge/munged.pid; do
    if alive "$pidfile"; then
      pid=$(cat "$pidfile")
      kill "$pid"
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    fi
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac

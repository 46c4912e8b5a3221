#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, without systemd, for testing `tweedie compare --slurm`.
#
#   scripts/slurm-local.sh start DIR   installs Slurm and munge from Debian's packages if missing,
#                                      writes DIR/slurm.conf and starts munged, slurmctld and slurmd
#                                      (state, logs and pid files under DIR); prints the environment
#                                      to use (SLURM_CONF=...)
#   scripts/slurm-local.sh stop DIR    stops the daemons by their pid files
#
# Exit status 2 from start means Slurm cannot be installed here (the caller skips, saying so).
set -euo pipefail
action=${1:?usage: slurm-local.sh start|stop DIR}
dir=$(mkdir -p "${2:?usage: slurm-local.sh start|stop DIR}" && cd "$2" && pwd)

stop() {
    for name in slurmd slurmctld munged; do
        if [ -f "$dir/$name.pid" ]; then
            pid=$(cat "$dir/$name.pid")
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -9 "$pid" 2>/dev/null || true
            rm -f "$dir/$name.pid"
        fi
    done
}

if [ "$action" = stop ]; then stop; exit 0; fi
[ "$action" = start ] || { echo "usage: slurm-local.sh start|stop DIR" >&2; exit 64; }

SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null \
    || ! command -v munged >/dev/null; then
    echo "slurm-local: installing slurmctld slurmd slurm-client munge with apt-get" >&2
    if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
            slurmctld slurmd slurm-client munge; } >"$dir/apt.log" 2>&1; then
        echo "slurm-local: cannot install Slurm here (see $dir/apt.log)" >&2
        exit 2
    fi
fi

cpus=$(nproc)
memory=$(slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
memory=$(( ${memory:-2000} > 2000 ? 2000 : ${memory:-2000} ))
mkdir -p "$dir/state" "$dir/spool" "$dir/log"
cat > "$dir/slurm.conf" <<CONF
ClusterName=tweedie-test
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
ReturnToService=2
MpiDefault=none
NodeName=localhost CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$dir/slurm.conf"

$SUDO install -d -o munge -g munge /run/munge
if [ ! -f /etc/munge/munge.key ]; then $SUDO runuser -u munge -- mungekey --create >/dev/null 2>&1 || true; fi
$SUDO runuser -u munge -- munged --pid-file=/run/munge/munged.pid 2>/dev/null || true
cp /run/munge/munged.pid "$dir/munged.pid" 2>/dev/null || true
slurmctld
slurmd -N localhost
for _ in $(seq 100); do
    if sinfo -h -o %t 2>/dev/null | grep -q idle; then
        echo "SLURM_CONF=$SLURM_CONF"
        exit 0
    fi
    sleep 0.2
done
echo "slurm-local: the node did not become idle (see $dir/log)" >&2
stop
exit 1

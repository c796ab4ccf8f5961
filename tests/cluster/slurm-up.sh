#!/usr/bin/env bash
# A throw-away one-node SLURM cluster on this machine, for tests/cluster (run as root).
# Installs munge and SLURM from Debian packages when missing, writes a one-node config with
# two placeholder GPUs (so --gpus=1 jobs are schedulable; with no CUDA the jobs use the CPU),
# starts munged, slurmctld and slurmd, and waits until the node is idle.
# Stop it with slurm-down.sh.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "slurm-up: needs root (it installs packages and starts daemons)" >&2; exit 1
fi
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null \
   || ! command -v sbatch >/dev/null; then
  echo "slurm-up: installing slurmctld slurmd slurm-client munge"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    slurmctld slurmd slurm-client munge >/dev/null
fi

node=$(hostname -s)
detected=$(slurmd -C | head -n 1)
cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<< "$detected")
memory=$(( $(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<< "$detected") * 8 / 10 ))  # above detected: INVAL

# /etc/slurm is Debian's compiled-in path; srun inside jobs finds the config only there.
mkdir -p /etc/slurm
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=foldwise-test
SlurmctldHost=${node}(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
SwitchType=switch/none
# no cgroup plugins: in a container they leave the node idle but fail every job step
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
ReturnToService=2
MailProg=/bin/true
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=${node} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${memory} Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
# two placeholder GPUs (device files that exist), as `--resources gpu=2` locally
printf "NodeName=${node} Name=gpu File=/dev/null\nNodeName=${node} Name=gpu File=/dev/zero\n" > /etc/slurm/gres.conf

install -d -o munge -g munge -m 0700 /etc/munge /var/log/munge
install -d -o munge -g munge -m 0711 /var/lib/munge
install -d -o munge -g munge -m 0755 /run/munge
[ -s /etc/munge/munge.key ] || runuser -u munge -- mungekey --create
if ! { [ -s /run/munge/munged.pid ] && kill -0 "$(cat /run/munge/munged.pid)" 2>/dev/null; }; then
  runuser -u munge -- /usr/sbin/munged
fi
munge -n | unmunge >/dev/null

# fresh state: slurmctld would restore a node once marked INVAL as drained
install -d -m 0755 /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
rm -rf /var/spool/slurmctld/* /var/spool/slurmd/*
for pidfile in /run/slurmd.pid /run/slurmctld.pid; do
  if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then kill "$(cat "$pidfile")"; sleep 1; fi
done
slurmctld -c
slurmd

for _ in $(seq 1 150); do
  state=$(sinfo -h -N -n "$node" -o '%T' 2>/dev/null || true)
  case "$state" in
    idle) echo "slurm-up: node $node idle ($cpus CPUs, ${memory} MB, 2 placeholder GPUs)"; exit 0 ;;
    *drain*|inval*|down*) sinfo -R >&2; tail -n 20 /var/log/slurm/slurmctld.log >&2; exit 1 ;;
  esac
  sleep 0.2
done
echo "slurm-up: node $node not idle after 30 s (state: ${state:-none})" >&2
tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2
exit 1

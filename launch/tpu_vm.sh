#!/usr/bin/env bash
# Train on a Cloud TPU VM slice (single host or pod): every worker installs star_jax and
# runs the same command; jax.distributed finds the other workers by itself (--distributed).
#
#   launch/tpu_vm.sh TPU_NAME ZONE CONFIG WORKDIR [--config.x=y ...]
#   e.g. launch/tpu_vm.sh star-v4-32 us-central2-b configs/star.py /mnt/nfs/star \
#          --config.data.dir=/mnt/nfs/vimeo_triplet --config.mesh_shape='(16,1)'
#
# WORKDIR and data.dir must be on storage every worker sees (e.g. an NFS/Filestore mount).
# The run refuses to train on the CPU (--config.require_accelerator=True: a worker whose jax
# cannot start the TPU stops with one error: line; a --config.require_accelerator=False
# override wins). DRY_RUN=1 prints the gcloud command instead of running it. REPO (default:
# this checkout's origin URL) and REF (default: main) choose what the workers install.
#
# Restarts: each worker runs training under launch/retry.sh, which reruns it after a
# preemption notice (exit 143: the step reached was saved) or a failed run (exit 1, e.g. a
# lost worker: the others stop within config.lost_process_timeout_seconds, 30 s) up to
# MAX_RESTARTS [5] times, RETRY_DELAY [10] s apart; every rerun resumes from the last
# checkpoint. Grace: GCE gives a preempted (spot) VM 30 s between its SIGTERM and the stop;
# the save on SIGTERM must fit: measured at full width on CPU in
# benchmarks/results/preemption.md. A VM that is gone needs recreating (e.g. a queued resource);
# running this command again then resumes.
#
# Plan first, on your laptop, before creating the slice (compiles the steps for it, runs
# nothing; says whether they fit its HBM and what the compiler estimates a step takes):
#   python -m star_jax.plan --config=CONFIG --topology=ACCELERATOR_TYPE [--config.x=y ...]
#   e.g. python -m star_jax.plan --config=configs/star.py --topology=v4-32 \
#          --config.batch_size=16 --config.eval_batch_size=16 --config.mesh_shape='(16,1)'
set -euo pipefail
if [ $# -lt 4 ]; then
  sed -n '2,28p' "$0" >&2
  exit 2
fi
tpu=$1 zone=$2 config=$3 workdir=$4
shift 4
repo=${REPO:-$(git -C "$(dirname "$0")/.." remote get-url origin 2>/dev/null || echo "")}
if [ -z "$repo" ]; then
  echo "error: set REPO to a git URL the TPU workers can clone" >&2
  exit 2
fi
ref=${REF:-main}
for name in MAX_RESTARTS RETRY_DELAY; do
  if ! [[ ${!name:-0} =~ ^[0-9]+$ ]]; then
    echo "error: $name must be a whole number, got '${!name}'" >&2
    exit 2
  fi
done
overrides=$(printf ' %q' "$@")
remote="set -e; [ -d star_jax ] || git clone $repo star_jax; cd star_jax; git fetch -q origin $ref; \
git checkout -q FETCH_HEAD; python3 -m pip install -q -e '.[tpu]'; \
MAX_RESTARTS=${MAX_RESTARTS:-5} RETRY_DELAY=${RETRY_DELAY:-10} bash launch/retry.sh \
python3 -m star_jax.main --distributed --config=$config --config.require_accelerator=True \
--workdir=$workdir$overrides"
cmd=(gcloud compute tpus tpu-vm ssh "$tpu" --zone "$zone" --worker=all --command "$remote")
if [ "${DRY_RUN:-0}" = 1 ]; then
  printf '%q ' "${cmd[@]}"; echo
else
  "${cmd[@]}"
fi

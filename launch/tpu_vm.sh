#!/usr/bin/env bash
# Train on a Cloud TPU VM slice (single host or pod): every worker installs star_jax and
# runs the same command; jax.distributed finds the other workers by itself (--distributed).
#
#   launch/tpu_vm.sh TPU_NAME ZONE CONFIG WORKDIR [--config.x=y ...]
#   e.g. launch/tpu_vm.sh star-v4-32 us-central2-b configs/star.py /mnt/nfs/star \
#          --config.data.dir=/mnt/nfs/vimeo_triplet --config.mesh_shape='(16,1)'
#
# WORKDIR and data.dir must be on storage every worker sees (e.g. an NFS/Filestore mount).
# DRY_RUN=1 prints the gcloud command instead of running it. REPO (default: this checkout's
# origin URL) and REF (default: main) choose what the workers install.
#
# Plan first, on your laptop, before creating the slice (compiles the steps for it, runs
# nothing; says whether they fit its HBM and what the compiler estimates a step takes):
#   python -m star_jax.plan --config=CONFIG --topology=ACCELERATOR_TYPE [--config.x=y ...]
#   e.g. python -m star_jax.plan --config=configs/star.py --topology=v4-32 \
#          --config.batch_size=16 --config.eval_batch_size=16 --config.mesh_shape='(16,1)'
set -euo pipefail
if [ $# -lt 4 ]; then
  sed -n '2,18p' "$0" >&2
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
overrides=$(printf ' %q' "$@")
remote="set -e; [ -d star_jax ] || git clone $repo star_jax; cd star_jax; git fetch -q origin $ref; \
git checkout -q FETCH_HEAD; python3 -m pip install -q -e '.[tpu]'; \
python3 -m star_jax.main --distributed --config=$config --workdir=$workdir$overrides"
cmd=(gcloud compute tpus tpu-vm ssh "$tpu" --zone "$zone" --worker=all --command "$remote")
if [ "${DRY_RUN:-0}" = 1 ]; then
  printf '%q ' "${cmd[@]}"; echo
else
  "${cmd[@]}"
fi

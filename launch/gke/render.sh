#!/usr/bin/env bash
# Render (and by default apply) a GKE JobSet that trains star_jax on a multi-host TPU slice
# or on multi-node GPUs. Every pod runs
#   python3 -m star_jax.main --distributed --config=CONFIG --workdir=WORKDIR [overrides]
# with JAX_COORDINATOR_ADDRESS (pod 0's DNS name), JAX_NUM_PROCESSES and JAX_PROCESS_ID
# (the pod's completion index) set, which is what --distributed reads, and
# --config.require_accelerator=True after CONFIG (a pod whose jax falls back to the CPU stops
# with one error: line; a --config.require_accelerator=False override wins).
#
#   launch/gke/render.sh tpu|gpu CONFIG WORKDIR [--config.x=y ...]
#   e.g. NUM_PROCESSES=4 TPU_TOPOLOGY=4x4 launch/gke/render.sh tpu configs/star.py \
#          /data/star --config.data.dir=/data/vimeo_triplet --config.mesh_shape='(16,1)'
#
# Environment (defaults in brackets): IMAGE [star-jax:latest] (an image with star_jax
# installed, e.g. pip install -e '.[tpu]' or '.[cuda]'), NAME [star-jax], NUM_PROCESSES
# [2] (TPU: hosts in the slice; GPU: nodes), COORDINATOR_PORT [1234], MAX_RESTARTS [10]
# (the JobSet recreates all pods when one fails: a preempted pod saves on SIGTERM and exits
# 143, a lost one makes the others exit 1 within config.lost_process_timeout_seconds; the
# new pods resume from the last checkpoint), GRACE_SECONDS [180] (terminationGracePeriod:
# time between SIGTERM and SIGKILL; it must cover the save, measured in
# benchmarks/results/preemption.md),
# WORKING_DIR [/app], SHARED_CLAIM [star-data] and SHARED_MOUNT [/data] (a ReadWriteMany
# volume every pod sees, for WORKDIR and the data). TPU: TPU_ACCELERATOR
# [tpu-v5-lite-podslice], TPU_TOPOLOGY [2x4], CHIPS_PER_HOST [4]. GPU: GPU_ACCELERATOR
# [nvidia-h100-80gb], GPUS_PER_NODE [8].
# DRY_RUN=1 prints the YAML instead of piping it to kubectl apply -f -.
# Plan first, on a laptop (compiles the steps for the slice or GPUs, runs nothing):
#   python -m star_jax.plan --config=CONFIG --topology=v5e:4x4 [--config.x=y ...]
#   (TPU_TOPOLOGY's shape after the generation: v5e:2x4, v6e:4x4, v5p:2x2x2; GPUs: h100:4x8)
set -euo pipefail
if [ $# -lt 3 ] || { [ "$1" != tpu ] && [ "$1" != gpu ]; }; then
  sed -n '2,29p' "$0" >&2
  exit 2
fi
kind=$1 config=$2 workdir=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
name=${NAME:-star-jax}
num_processes=${NUM_PROCESSES:-2}
check_int() {  # NAME VALUE MINIMUM
  if ! [[ $2 =~ ^[0-9]+$ ]] || [ "$2" -lt "$3" ]; then
    echo "error: $1 must be an integer >= $3, got '$2'" >&2
    exit 2
  fi
}
check_int NUM_PROCESSES "$num_processes" 1
check_int COORDINATOR_PORT "${COORDINATOR_PORT:-1234}" 1
check_int CHIPS_PER_HOST "${CHIPS_PER_HOST:-4}" 1
check_int GPUS_PER_NODE "${GPUS_PER_NODE:-8}" 1
check_int MAX_RESTARTS "${MAX_RESTARTS:-10}" 0
check_int GRACE_SECONDS "${GRACE_SECONDS:-180}" 1
if ! [[ $name =~ ^[a-z]([-a-z0-9]*[a-z0-9])?$ ]]; then
  echo "error: NAME '$name' must be a DNS label (lower case letters, digits, '-')" >&2
  exit 2
fi

# One JSON string per argument (JSON is YAML): flags reach python exactly as given.
json_string() {
  local s=${1//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}
args="[$(json_string --distributed), $(json_string "--config=$config")"
args+=", $(json_string --config.require_accelerator=True), $(json_string "--workdir=$workdir")"
for arg in "$@"; do
  args+=", $(json_string "$arg")"
done
args+="]"

# sed replacement text: escape \, & and the | delimiter.
sed_value() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }
yaml=$(sed \
  -e "s|@NAME@|$(sed_value "$name")|g" \
  -e "s|@IMAGE@|$(sed_value "${IMAGE:-star-jax:latest}")|g" \
  -e "s|@NUM_PROCESSES@|$num_processes|g" \
  -e "s|@COORDINATOR_PORT@|${COORDINATOR_PORT:-1234}|g" \
  -e "s|@MAX_RESTARTS@|${MAX_RESTARTS:-10}|g" \
  -e "s|@GRACE_SECONDS@|${GRACE_SECONDS:-180}|g" \
  -e "s|@WORKING_DIR@|$(sed_value "${WORKING_DIR:-/app}")|g" \
  -e "s|@SHARED_CLAIM@|$(sed_value "${SHARED_CLAIM:-star-data}")|g" \
  -e "s|@SHARED_MOUNT@|$(sed_value "${SHARED_MOUNT:-/data}")|g" \
  -e "s|@TPU_ACCELERATOR@|$(sed_value "${TPU_ACCELERATOR:-tpu-v5-lite-podslice}")|g" \
  -e "s|@TPU_TOPOLOGY@|$(sed_value "${TPU_TOPOLOGY:-2x4}")|g" \
  -e "s|@CHIPS_PER_HOST@|${CHIPS_PER_HOST:-4}|g" \
  -e "s|@GPU_ACCELERATOR@|$(sed_value "${GPU_ACCELERATOR:-nvidia-h100-80gb}")|g" \
  -e "s|@GPUS_PER_NODE@|${GPUS_PER_NODE:-8}|g" \
  -e "s|@ARGS@|$(sed_value "$args")|g" \
  "$here/jobset_$kind.yaml")
if [ "${DRY_RUN:-0}" = 1 ]; then
  printf '%s\n' "$yaml"
else
  printf '%s\n' "$yaml" | kubectl apply -f -
fi

r"""Benchmark: the train step's peak memory and FLOPs per chip under another remat policy, on
a TPU topology's compile-only devices (compiled, not run; ``star_jax.plan``).

``star_jax.model.remat.POLICY`` (the checkpoint policy of every remat unit) is replaced for
this process before the model is built, then the plan of ``python -m star_jax.plan`` is made
for the train step alone and written as JSON:

  JAX_PLATFORMS=cpu python -m benchmarks remat-policy --policy=dots_saveable \
      --topology=v5p:2x2x1 --dtype=bfloat16 --remat=blocks --batch_size=4 \
      --json=benchmarks/plan/v5p_bf16_blocks_dots.json

Policies: ``nothing_saveable`` (the committed one), ``dots_saveable``,
``dots_with_no_batch_dims_saveable``, ``everything_saveable``, ``offload_dot`` (matmul and
convolution outputs offloaded to host memory: ``offload_dot_with_no_batch_dims`` from device
to pinned host).
"""

import argparse
import json
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("ALLOW_MULTIPLE_LIBTPU_LOAD", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # as star_jax.plan: TensorFlow's start-up
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # lines (imported via clu) stay quiet

import jax  # pylint: disable=wrong-import-position

from star_jax.model import remat  # pylint: disable=wrong-import-position
from star_jax.plan import planner, report, topology  # pylint: disable=wrong-import-position
from star_jax.train import config as config_lib  # pylint: disable=wrong-import-position
from star_jax.train.config import base_config  # pylint: disable=wrong-import-position

POLICIES = {
    "nothing_saveable": jax.checkpoint_policies.nothing_saveable,
    "dots_saveable": jax.checkpoint_policies.dots_saveable,
    "dots_with_no_batch_dims_saveable":
        jax.checkpoint_policies.dots_with_no_batch_dims_saveable,
    "everything_saveable": jax.checkpoint_policies.everything_saveable,
    "offload_dot": jax.checkpoint_policies.offload_dot_with_no_batch_dims("device",
                                                                          "pinned_host"),
}


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--policy", choices=sorted(POLICIES), required=True)
  parser.add_argument("--topology", default="v5p:2x2x1")
  parser.add_argument("--dtype", default="bfloat16")
  parser.add_argument("--remat", default="blocks")
  parser.add_argument("--batch_size", type=int, default=4, help="global batch")
  parser.add_argument("--json", required=True)
  parser.add_argument("--log_file", default="plan.log")
  return parser.parse_args(argv)


def main(argv=None):
  args = parse_args(argv)
  remat.POLICY = POLICIES[args.policy]
  config = config_lib.with_fields(base_config(), batch_size=args.batch_size,
                               eval_batch_size=args.batch_size,
                               **{"model.dtype": args.dtype, "model.remat": args.remat})
  slice_ = topology.parse_topology(args.topology)
  devices = topology.compile_only_devices(slice_, args.log_file)
  planner.check_config(config, devices)
  step = planner.plan_step("train", config, devices, log_path=args.log_file)
  out = report.plan_json({"train": step}, {"name": slice_.compiler_name,
                                           "num_chips": slice_.num_chips,
                                           "device_kind": devices[0].device_kind}, config)
  out["remat_policy"] = args.policy
  with open(args.json, "w") as f:
    json.dump(out, f, indent=1)
  print(report.table({"train": step}))

"""Benchmark: peak memory and FLOPs of the compiled train step, per remat policy and dtype.

Not a test. Compiles (never runs) the trainer's own jitted train step
(``star_jax.train.trainer.jit_train_step``: STAR objective, Lr loss, Adamax, state donated)
for the full-width released model on one device of the default backend, from abstract
shapes only, and prints one JSON line per configuration with
``star_jax.train.compiled_stats.compiled_step_stats`` (peak = argument + output + temp -
alias bytes) plus the compile time. Configurations run one after another in one process.

    python -m benchmarks train-memory --variant V4_REF --lr-size 64x112 --batch 10 \\
        --remat none,blocks,full --dtype float32,bfloat16
"""

import argparse
import platform

import jax

from star_jax.model import build_model, sample_inputs
from star_jax.train import sharding, trainer
from star_jax.train.compiled_stats import compiled_step_stats
from star_jax.train.config import base_config
from star_jax.train.state import create_state, learning_rate_schedule, make_optimizer

from . import harness


def measure(variant: str, h: int, w: int, batch: int, remat: str, dtype: str):
  config = base_config()
  config.model.variant, config.model.remat, config.model.dtype = variant, remat, dtype
  config.batch_size = batch
  schedule = learning_rate_schedule(config.optimizer.learning_rate, 1000, 30, 0.1)
  tx = make_optimizer(config, schedule)
  model = build_model(config.model)
  mesh = sharding.make_mesh((1, 1), devices=jax.devices()[:1])
  state = jax.eval_shape(lambda key: create_state(model, tx, key, sample_inputs()),
                         jax.random.key(0))
  shardings = sharding.param_shardings(state, mesh, ())
  step = trainer.jit_train_step(config, model, tx, schedule, mesh, shardings)
  abstract_batch = jax.eval_shape(lambda: harness.train_batch(
      batch, h, w, int(config.model.scale), flow_targets=variant.endswith("_REF")))
  compiled, compile_s, compile_cpu_s = harness.timed(
      lambda: step.lower(state, abstract_batch).compile())
  stats = compiled_step_stats(compiled)
  return dict(variant=variant, lr_hw=[h, w], batch=batch, remat=remat, dtype=dtype, **stats,
              peak_gib=round(stats["peak_bytes"] / 2 ** 30, 3),
              compile_s=round(compile_s, 1), compile_cpu_s=round(compile_cpu_s, 1))


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--variant", default="V4_REF")
  parser.add_argument("--lr-size", default="64x112", help="LR HxW")
  parser.add_argument("--batch", type=int, default=10)
  parser.add_argument("--remat", default="none,blocks,full")
  parser.add_argument("--dtype", default="float32,bfloat16")
  return parser.parse_args(argv)


def main(argv=None):
  args = parse_args(argv)
  h, w = (int(v) for v in args.lr_size.split("x"))
  harness.print_json({"device": jax.devices()[0].device_kind, "backend": jax.default_backend(),
                      "jax": jax.__version__,
                      "machine": platform.processor() or platform.machine()})
  for dtype in args.dtype.split(","):
    for remat in args.remat.split(","):
      harness.print_json(measure(args.variant, h, w, args.batch, remat, dtype))

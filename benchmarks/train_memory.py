"""Benchmark: peak memory and FLOPs of the compiled train step, per remat policy and dtype.

Not a test. Compiles (never runs) the trainer's own jitted train step
(``star_jax.train.trainer.jit_train_step``: STAR objective, Lr loss, Adamax, state donated)
for the full-width released model on one device of the default backend, from abstract
shapes only, and prints one JSON line per configuration with
``star_jax.train.compiled_stats.compiled_step_stats`` (peak = argument + output + temp -
alias bytes) plus the compile time. Configurations run one after another in one process.

    python benchmarks/train_memory.py --variant V4_REF --lr-size 64x112 --batch 10 \\
        --remat none,blocks,full --dtype float32,bfloat16
"""

import argparse
import json
import platform
import time

import jax
import jax.numpy as jnp

from star_jax.model import build_model, sample_inputs
from star_jax.train import sharding, trainer
from star_jax.train.compiled_stats import compiled_step_stats
from star_jax.train.config import base_config
from star_jax.train.state import create_state, learning_rate_schedule, make_optimizer


def abstract_batch(batch: int, h: int, w: int, scale: int, refine: bool):
  """ShapeDtypeStructs of one training batch (keys as star_jax.data.pipeline makes them)."""
  f32 = lambda *shape: jax.ShapeDtypeStruct(shape, jnp.float32)
  out = {"im1": f32(batch, h, w, 3), "im2": f32(batch, h, w, 3), "flow_f": f32(batch, h, w, 2),
         "flow_b": f32(batch, h, w, 2), "lr_t": f32(batch, h, w, 3)}
  out.update({k: f32(batch, h * scale, w * scale, 3) for k in ("hr_t", "hr1", "hr2")})
  if refine:
    out.update(gt_flow_f=f32(batch, h, w, 2), gt_flow_b=f32(batch, h, w, 2))
  return out


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
  started, cpu_started = time.perf_counter(), time.process_time()
  compiled = step.lower(state, abstract_batch(batch, h, w, int(config.model.scale),
                                              variant.endswith("_REF"))).compile()
  stats = compiled_step_stats(compiled)
  return dict(variant=variant, lr_hw=[h, w], batch=batch, remat=remat, dtype=dtype, **stats,
              peak_gib=round(stats["peak_bytes"] / 2 ** 30, 3),
              compile_s=round(time.perf_counter() - started, 1),
              compile_cpu_s=round(time.process_time() - cpu_started, 1))


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--variant", default="V4_REF")
  parser.add_argument("--lr-size", default="64x112", help="LR HxW")
  parser.add_argument("--batch", type=int, default=10)
  parser.add_argument("--remat", default="none,blocks,full")
  parser.add_argument("--dtype", default="float32,bfloat16")
  args = parser.parse_args()
  h, w = (int(v) for v in args.lr_size.split("x"))
  print(json.dumps({"device": jax.devices()[0].device_kind, "backend": jax.default_backend(),
                    "jax": jax.__version__, "machine": platform.processor() or platform.machine()}),
        flush=True)
  for dtype in args.dtype.split(","):
    for remat in args.remat.split(","):
      print(json.dumps(measure(args.variant, h, w, args.batch, remat, dtype)), flush=True)


if __name__ == "__main__":
  main()

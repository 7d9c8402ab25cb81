"""Benchmark: train and eval steps/s of an experiment config, with XLA's FLOPs and MFU.

Not a test. It runs the trainer's own compiled train step (``trainer.jit_train_step``:
objective, loss and optimizer of the config) and the eval forward (``step.eval_step``) on
random ImageNet-normalised inputs of the config's shapes, compiled ahead of time (compile time
reported apart), and times ``--repeats`` steps after ``--warmups`` untimed ones, in wall and
process CPU time. FLOPs per step are XLA's (``compiled_stats.compiled_step_stats``). MFU
against ``--peak-flops`` (the machine's FLOP/s, e.g. ``python -m benchmarks cpu-peak``'s peak):

  wall MFU = FLOPs per step x steps/s (wall) / peak
  CPU MFU  = (FLOPs per step / CPU seconds per step) / (peak / cores)

The second does not depend on how much of a shared machine the run got (both rates are per
CPU-second), which is the one to compare on a loaded machine.

    python -m benchmarks step-mfu --config configs/demo.py --peak-flops 3.6e11
    python -m benchmarks step-mfu --config configs/star.py --variant V1 \\
        --lr-size 64x112 --batch 1 --modes eval --repeats 2 --peak-flops 3.6e11
"""

import argparse
import functools
import importlib.util
import os

import jax
import numpy as np

from star_jax.model import build_model, sample_inputs
from star_jax.train import sharding, step as step_lib, trainer
from star_jax.train.compiled_stats import compiled_step_stats
from star_jax.train.state import create_state, learning_rate_schedule, make_optimizer

from . import harness


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--config", required=True, help="experiment config file (configs/*.py)")
  parser.add_argument("--variant", help="override config.model.variant")
  parser.add_argument("--widths", help="override base_filter,feat,n_resblock, e.g. 256,64,5")
  parser.add_argument("--lr-size", help="LR HxW of a train sample (default: the config's "
                      "patch, or 64x112 when it trains on whole frames)")
  parser.add_argument("--eval-lr-size", help="LR HxW of an eval sample (default: --lr-size, "
                      "or 32x40 for the demo config)")
  parser.add_argument("--batch", type=int, help="train batch (default: config.batch_size)")
  parser.add_argument("--eval-batch", type=int,
                      help="eval batch (default: config.eval_batch_size)")
  parser.add_argument("--modes", default="train,eval", help="subset of train,eval")
  parser.add_argument("--repeats", type=int, default=5, help="timed steps per mode")
  parser.add_argument("--warmups", type=int, default=1, help="untimed steps before timing")
  parser.add_argument("--peak-flops", type=float, help="machine peak FLOP/s for MFU")
  args = parser.parse_args(argv)
  args.modes = [m for m in args.modes.split(",") if m]
  if not args.modes or set(args.modes) - {"train", "eval"}:
    parser.error("--modes must be a comma-separated subset of train,eval")
  if args.repeats < 1 or args.warmups < 0:
    parser.error("--repeats must be at least 1 and --warmups at least 0")
  return args


def _size(text, flag):
  try:
    h, w = (int(v) for v in text.lower().split("x"))
  except ValueError:
    raise SystemExit(f"{flag} must look like 64x112, got {text!r}") from None
  return h, w


def load_config(args):
  spec = importlib.util.spec_from_file_location("experiment_config", args.config)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  config = module.get_config()
  if args.variant:
    config.model.variant = args.variant
  if args.widths:
    config.model.base_filter, config.model.feat, config.model.n_resblock = (
        int(v) for v in args.widths.split(","))
  return config


def report(mode, flops, compile_s, wall, cpu, batch, peak):
  cores = os.cpu_count()
  line = (f"| {mode} | {batch} | {compile_s:.1f} | {flops / 1e9:.2f} | {1 / wall:.4g} | "
          f"{wall:.3g} | {cpu:.3g} | {cpu / wall:.2f} |")
  if peak:
    line += (f" {100 * flops / wall / peak:.2f}% | "
             f"{100 * (flops / cpu) / (peak / cores):.2f}% |")
  print(line, flush=True)


def main(argv=None):
  args = parse_args(argv)
  config = load_config(args)
  scale = int(config.model.scale)
  if args.lr_size:
    train_hw = _size(args.lr_size, "--lr-size")
  else:
    patch = config.data.patch_size
    train_hw = (patch, patch) if patch else (64, 112)
  eval_hw = (_size(args.eval_lr_size, "--eval-lr-size") if args.eval_lr_size
             else (32, 40) if args.lr_size is None and config.data.generate_demo else train_hw)
  batch = args.batch or config.batch_size
  eval_batch = args.eval_batch or config.eval_batch_size
  mesh = sharding.make_mesh(config.mesh_shape)
  model = build_model(config.model)
  schedule = learning_rate_schedule(config.optimizer.learning_rate, 100,
                                    config.lr_decay_every_epochs, config.lr_decay_factor)
  tx = make_optimizer(config, schedule)
  abstract = jax.eval_shape(functools.partial(
      create_state, model, tx, sample_inputs=sample_inputs()),
      jax.random.key(0))
  shardings = sharding.param_shardings(abstract, mesh, config.param_sharding)
  state = trainer.initial_state(config, model, tx, shardings)
  m = config.model
  print(f"{args.config}: {m.variant} {m.base_filter}/{m.feat}/{m.n_resblock} x{scale}, "
        f"train LR {train_hw[0]}x{train_hw[1]} batch {batch}, eval LR {eval_hw[0]}x{eval_hw[1]} "
        f"batch {eval_batch}; {jax.devices()[0].device_kind}, {os.cpu_count()} cores, "
        f"jax {jax.__version__}, load average {os.getloadavg()[0]:.1f}")
  header = ("| mode | batch | compile s | GFLOP/step | steps/s (wall) | wall s/step | "
            "CPU s/step | CPU/wall |")
  if args.peak_flops:
    header += " MFU (wall) | MFU (CPU time) |"
  print(header)
  print("|" + "---|" * (header.count("|") - 1))

  if "eval" in args.modes:
    eval_data = sharding.global_batch(harness.train_batch(eval_batch, *eval_hw, scale), mesh)
    eval_fn = jax.jit(functools.partial(step_lib.eval_step, model=model))
    compiled, compile_s, _ = harness.timed(lambda: eval_fn.lower(state, eval_data).compile())
    wall, cpu = harness.median_seconds(lambda: jax.block_until_ready(compiled(state, eval_data)),
                           args.repeats, args.warmups)
    report("eval", compiled_step_stats(compiled)["flops"], compile_s, wall, cpu, eval_batch,
           args.peak_flops)

  if "train" in args.modes:
    data = sharding.global_batch(harness.train_batch(batch, *train_hw, scale), mesh)
    train_fn = trainer.jit_train_step(config, model, tx, schedule, mesh, shardings)
    compiled, compile_s, _ = harness.timed(lambda: train_fn.lower(state, data).compile())
    holder = [state]

    def run_train():
      holder[0], metrics = compiled(holder[0], data)
      if not np.isfinite(float(metrics["loss/total"])):
        raise FloatingPointError(f"train loss is {float(metrics['loss/total'])}")

    wall, cpu = harness.median_seconds(run_train, args.repeats, args.warmups)
    report("train", compiled_step_stats(compiled)["flops"], compile_s, wall, cpu, batch,
           args.peak_flops)
  print(f"load average {os.getloadavg()[0]:.1f} at the end")

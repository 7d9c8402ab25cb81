"""Short training runs of the demo under named config changes, for the ablation table in
benchmarks/results/training_cpu.md: held-out metrics against their baselines, and what a train step costs.

Usage (one process; the runs share one demo dataset and its flow cache):
  python benchmarks/archive/demo_ablation.py --steps 200 --workdir workdir/ablation \\
      --run base= --run icnr=init_transposed=icnr \\
      --run residual=model.residual_bicubic=True,init_transposed=icnr

Each ``--run NAME=OVERRIDES`` (comma-separated ``field=value`` on ``configs/demo.py``, values
parsed as Python literals) trains from scratch for ``--steps`` steps and prints one line:
the summary line of ``python -m star_jax.main`` and the train step's cost, timed on one real
batch over ``--timed-steps`` steps after two warm-up steps, in CPU seconds
(``time.process_time``, all threads of this process) and wall seconds. The machine may be
shared: CPU seconds are the comparable number, wall seconds are what the machine gave.
"""

import argparse
import ast
import functools
import importlib.util
import json
import pathlib
import time

import jax

from star_jax.data import pipeline
from star_jax.model import build_model, sample_inputs
from star_jax.train import data_setup, evaluation, sharding, trainer
from star_jax.train.state import create_state, learning_rate_schedule, make_optimizer



def load_demo_config(path: str = "configs/demo.py"):
  spec = importlib.util.spec_from_file_location("demo_config", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def apply_overrides(config, overrides: str):
  """``overrides``: 'a.b=1,c=(1, 2)'-style assignments (values are Python literals)."""
  for assignment in filter(None, _split_top_level(overrides)):
    field, value = assignment.split("=", 1)
    node = config
    *parents, leaf = field.strip().split(".")
    for parent in parents:
      node = node[parent]
    node[leaf] = ast.literal_eval(value.strip())
  return config


def _split_top_level(text: str):
  """Splits on commas outside brackets."""
  parts, depth, current = [], 0, ""
  for char in text:
    depth += char in "([{"
    depth -= char in ")]}"
    if char == "," and depth == 0:
      parts.append(current)
      current = ""
    else:
      current += char
  return parts + [current]


def step_cost(config, timed_steps: int):
  """(CPU s, wall s) per train step of ``config`` on one real training batch."""
  mesh = sharding.make_mesh(config.mesh_shape)
  model = build_model(config.model)
  schedule = learning_rate_schedule(config.optimizer.learning_rate, 80, 10, 0.2)
  tx = make_optimizer(config, schedule)
  abstract = jax.eval_shape(functools.partial(
      create_state, model, tx, sample_inputs=sample_inputs()), jax.random.key(0))
  shardings = sharding.param_shardings(abstract, mesh, config.param_sharding)
  state = trainer.initial_state(config, model, tx, shardings)
  step = trainer.jit_train_step(config, model, tx, schedule, mesh, shardings)
  batch = next(iter(pipeline.make_dataset(data_setup.pipeline_config(
      config, config.data.train_split, True, config.batch_size))))
  batch = sharding.global_batch(batch, mesh)
  for _ in range(2):
    state, metrics = step(state, batch)
  jax.block_until_ready(metrics)
  cpu, wall = time.process_time(), time.perf_counter()
  for _ in range(timed_steps):
    state, metrics = step(state, batch)
  jax.block_until_ready(metrics)
  return (time.process_time() - cpu) / timed_steps, (time.perf_counter() - wall) / timed_steps


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--steps", type=int, default=200)
  parser.add_argument("--workdir", default="workdir/ablation")
  parser.add_argument("--data-dir", default="workdir/demo_data")
  parser.add_argument("--timed-steps", type=int, default=10)
  parser.add_argument("--run", action="append", required=True, metavar="NAME=OVERRIDES")
  args = parser.parse_args()
  for run in args.run:
    name, overrides = run.split("=", 1)
    config = apply_overrides(load_demo_config(), overrides)
    config.data.dir = args.data_dir
    config.total_steps = args.steps
    config.eval_every_steps = args.steps
    config.checkpoint_every_steps = args.steps
    config.log_every_steps = max(1, args.steps // 4)
    workdir = pathlib.Path(args.workdir) / name
    cpu, wall = time.process_time(), time.perf_counter()
    result = trainer.train_and_evaluate(config, str(workdir))
    run_cpu, run_wall = time.process_time() - cpu, time.perf_counter() - wall
    step_cpu, step_wall = step_cost(config, args.timed_steps)
    record = dict(name=name, overrides=overrides, steps=result.step, run_cpu_s=run_cpu,
                  run_wall_s=run_wall, step_cpu_s=step_cpu, step_wall_s=step_wall,
                  metrics=result.eval_metrics)
    with open(pathlib.Path(args.workdir) / "ablation.jsonl", "a") as f:
      f.write(json.dumps(record) + "\n")
    print(f"[{name}] {overrides or '(demo config)'}: {evaluation.summary_line(result.eval_metrics)}"
          f" | step {step_cpu * 1e3:.0f} ms CPU ({step_wall * 1e3:.0f} ms wall); run "
          f"{run_cpu:.0f} s CPU, {run_wall:.0f} s wall", flush=True)


if __name__ == "__main__":
  main()

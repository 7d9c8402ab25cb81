"""benchmarks/harness.py: the timer counts what it should, the synthetic batch has the input
pipeline's keys and shapes, the tables and JSON lines are what the tools print."""

import json
import time

import jax
import numpy as np

from benchmarks import harness
from star_jax import pixels
from star_jax.train import objectives


def test_timed_returns_the_result_and_covers_the_call():
  result, wall, cpu = harness.timed(lambda: time.sleep(0.02) or 7)
  assert result == 7
  assert wall >= 0.02 and cpu >= 0  # a lower bound of the interval, not a speed


def test_warmups_are_run_untimed_and_the_median_is_of_the_timed_calls():
  calls = []
  sleeps = iter([0.3, 0.0, 0.03, 0.05])  # the warm-up sleeps longest

  def run():
    calls.append(len(calls))
    time.sleep(next(sleeps))

  walls, cpus = harness.run_seconds(run, repeats=3, warmups=1)
  assert len(calls) == 4 and len(walls) == len(cpus) == 3
  assert walls[1] >= 0.03 and walls[2] >= 0.05
  sleeps = iter([0.3, 0.0, 0.03, 0.05])
  wall, _ = harness.median_seconds(run, repeats=3, warmups=1)
  assert wall >= 0.03  # two of the three timed calls sleep at least that long


def test_back_to_back_waits_once_on_the_last_result():
  results, finished = iter(range(5)), []
  seconds = harness.back_to_back_seconds(lambda: next(results), 5, finished.append)
  assert finished == [4] and seconds >= 0


def test_train_batch_has_the_pipelines_keys_shapes_and_ranges():
  batch = harness.train_batch(2, 8, 12, 4)
  lr, hr, flow = (2, 8, 12, 3), (2, 32, 48, 3), (2, 8, 12, 2)
  assert {k: v.shape for k, v in batch.items()} == {
      "im1": lr, "im2": lr, "lr_t": lr, "hr1": hr, "hr_t": hr, "hr2": hr,
      "flow_f": flow, "flow_b": flow, "gt_flow_f": flow, "gt_flow_b": flow}
  assert set(objectives.TARGET_KEYS.values()) <= set(batch)
  assert all(v.dtype == np.float32 for v in batch.values())
  for key in ("im1", "im2", "lr_t", "hr1", "hr_t", "hr2"):  # ImageNet-normalised [0, 1)
    frame = pixels.denormalize(batch[key])
    assert frame.min() >= -1e-6 and frame.max() < 1 + 1e-6 and frame.std() > 0.2
  assert all(np.abs(batch[k]).max() <= 0.1 for k in ("flow_f", "flow_b", "gt_flow_f"))


def test_train_batch_is_repeatable_and_seeded():
  first, again = harness.train_batch(1, 4, 4, 2), harness.train_batch(1, 4, 4, 2)
  other = harness.train_batch(1, 4, 4, 2, seed=1)
  assert all(np.array_equal(first[k], again[k]) for k in first)
  assert not np.array_equal(first["im1"], other["im1"])
  without = harness.train_batch(1, 4, 4, 2, flow_targets=False)
  assert set(first) - set(without) == {"gt_flow_f", "gt_flow_b"}
  shapes = jax.eval_shape(lambda: harness.train_batch(1, 4, 4, 2))
  assert shapes["hr_t"] == jax.ShapeDtypeStruct((1, 8, 8, 3), np.float32)


def test_markdown_and_json_output(capsys):
  assert harness.markdown_row("a", 1, "2.50") == "| a | 1 | 2.50 |"
  assert harness.markdown_header("n", "rate") == "| n | rate |\n|---|---|"
  assert harness.aligned_markdown_table(("name", "s"), [("V1", "1.25"), ("V4_REF", "-")]) == (
      "| name   | s    |\n"
      "|--------|------|\n"
      "| V1     | 1.25 |\n"
      "| V4_REF | -    |")
  harness.print_json({"a": 1, "b": [2]})
  harness.print_json({"a": 1}, indent=2)
  out = capsys.readouterr().out
  assert out.splitlines()[0] == '{"a": 1, "b": [2]}'
  assert json.loads(out.split("\n", 1)[1]) == {"a": 1}

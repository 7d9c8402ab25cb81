"""benchmarks/accelerator_suite.py: ``--smoke`` end to end in a subprocess (every section,
the JSON and the markdown table), and the MFU arithmetic on a known FLOP count and chip."""

import json
import math
import os
import pathlib
import subprocess
import sys

import pytest

from benchmarks import accelerator_suite

ROOT = pathlib.Path(__file__).resolve().parents[2]
# ``python -m benchmarks`` from another working directory (as the suite's own rows are run):
# the package and star_jax come from this tree.
SUITE = [sys.executable, "-m", "benchmarks", "accelerator-suite"]


def _env():
  return dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=os.pathsep.join(
      filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))


def test_mfu_of_a_known_flop_count_on_a_known_chip():
  # 2e12 FLOPs in 0.01 s = 200 TFLOP/s; an H100's dense bf16 peak is 989.5 TFLOP/s.
  result = accelerator_suite.mfu(2e12, 0.01, "NVIDIA H100 80GB HBM3", "bfloat16")
  assert math.isclose(result["tflops"], 200.0)
  assert math.isclose(result["mfu"], 200.0 / 989.5)
  unknown = accelerator_suite.mfu(2e12, 0.01, "cpu", "float32")
  assert unknown["mfu"] is None and "unknown device kind 'cpu'" in unknown["mfu_note"]


@pytest.mark.slow
def test_isolated_rows_come_back_from_their_processes(tmp_path):
  # --isolate (the default on a GPU): each row measured in a fresh process, its result
  # merged into the parent's report and table. The flow part is measured here only (the
  # smoke run below skips it: 37 s of CI).
  out = tmp_path / "isolated.json"
  completed = subprocess.run(
      [*SUITE, "--smoke", "--isolate", "--parts", "flow", "--out", str(out)], cwd=tmp_path,
      capture_output=True, text=True, env=_env(), timeout=3000, check=False)
  assert completed.returncode == 0, completed.stderr[-3000:]
  report = json.loads(out.read_text())
  assert [(row["part"], row["what"]) for row in report["rows"]] == [
      ("flow", "coarse2fine exact 112x64"), ("flow", "coarse2fine fast 112x64")]
  assert all(row["pairs_per_s"] > 0 and "x pyflow" in row["vs_pyflow"]
             for row in report["rows"])
  assert 0 < report["pyflow"]["s_per_pair"] < 1
  assert completed.stdout.count("\n| flow |") == 2


@pytest.mark.slow
def test_smoke_run_writes_every_row_and_the_table(tmp_path):
  out = tmp_path / "smoke.json"
  completed = subprocess.run(
      [*SUITE, "--smoke", "--parts", "train,infer,remat", "--out", str(out)], cwd=tmp_path,
      capture_output=True, text=True, env=_env(), timeout=3000, check=False)
  assert completed.returncode == 0, completed.stderr[-3000:]
  check_smoke_report(json.loads(out.read_text()), completed.stdout)


def check_smoke_report(report, stdout):
  """The JSON of a ``--smoke --parts train,infer,remat`` run has every row of those parts,
  measured and consistent, and ``stdout`` is its markdown table."""
  rows = {(row["part"], row["what"], row["dtype"]): row for row in report["rows"]}
  expected = {("train", "star_jax", "float32"), ("train", "star_jax", "bfloat16"),
              ("train", "star_jax remat=blocks", "bfloat16"),
              ("train", "PyTorch", "float32"), ("train", "PyTorch autocast", "bfloat16"),
              ("infer", "space-time x4 (flows incl.)", "float32"),
              ("infer", "space-time x4 (flows incl.)", "bfloat16")}
  assert set(rows) == expected
  assert not [row for row in rows.values() if "error" in row]
  for dtype in ("float32", "bfloat16"):
    train = rows[("train", "star_jax", dtype)]
    assert train["flops_per_step"] > 0 and train["samples_per_s"] > 0
    assert train["compile_s"] > 0 and train["tflops"] > 0 and train["compiled_peak_gib"] > 0
    infer = rows[("infer", "space-time x4 (flows incl.)", dtype)]
    assert infer["output_frames"] == 2 * (infer["input_frames"] - 1) + 1
  assert rows[("train", "PyTorch", "float32")]["flops_per_step"] == \
      rows[("train", "star_jax", "float32")]["flops_per_step"]
  table = stdout
  assert table == report["markdown"] + "\n"
  assert "| part | what | dtype | compile / first s | steady | rate | TFLOP/s | MFU |" in table
  remat = rows[("train", "star_jax remat=blocks", "bfloat16")]
  assert remat["remat"] == "blocks" and remat["compiled_peak_gib"] > 0
  assert remat["flops_per_step"] >= rows[("train", "star_jax", "bfloat16")]["flops_per_step"]
  assert table.count("\n| train |") == 5 and "\n| flow |" not in table
  assert report["environment"]["command"] in table and "device: cpu:" in table

"""Parity with the release on every folder of shared/parity (eval + training mode, refined
flows and BatchNorm running statistics), and the ``verify`` command."""

import gzip
import shutil

import numpy as np
import pytest

from star_jax.weights import load_weights
from star_jax.cli import convert as convert_cli
from star_jax.convert.verify import compare_to_reference

FOLDERS = ["V1_x4", "V2_x4", "V3_x4", "V4_x4", "V4_x2", "V4_x8", "V4_REF_x4"]
ATOL = 1e-4


def _reference(folder):
  with np.load(folder / "io.npz") as f:
    return {k: f[k] for k in f.files}


@pytest.mark.parametrize("name", FOLDERS)
def test_release_parity(shared_dir, name):
  folder = shared_dir / "parity" / name
  cfg, variables = load_weights(folder / "model.pth.gz")
  reference = _reference(folder)
  rows = compare_to_reference(cfg, variables, reference)
  assert {r.name for r in rows} == set(reference) - {"im1", "im2", "flow_f", "flow_b"}
  worst = max(rows, key=lambda r: r.max_abs_error)
  assert worst.max_abs_error <= ATOL, worst
  if name.endswith("REF_x4"):
    assert any(r.name.startswith("after_train/") for r in rows)
    assert {"train_flow_f", "train_flow_b"} <= {r.name for r in rows}


def test_verify_command_exit_codes(shared_dir, tmp_path, capsys):
  folder = shared_dir / "parity" / "V4_x2"
  pth = tmp_path / "model.pth"
  with gzip.open(folder / "model.pth.gz") as src, open(pth, "wb") as dst:
    shutil.copyfileobj(src, dst)
  assert convert_cli.main(["verify", str(pth), str(folder / "io.npz")]) == 0
  out = capsys.readouterr().out
  assert "eval_ht" in out and "train_l_1" in out and "OK:" in out
  # The same weights cannot meet an impossible tolerance: the command must say so.
  assert convert_cli.main(["verify", str(pth), str(folder / "io.npz"), "--atol", "1e-12"]) == 1
  assert "FAILED" in capsys.readouterr().err


def test_verify_detects_a_wrong_weight(shared_dir, tmp_path):
  folder = shared_dir / "parity" / "V3_x4"
  cfg, variables = load_weights(folder / "model.pth.gz")
  bias = variables["params"]["reconstruction_h"]["conv"]["bias"]
  variables["params"]["reconstruction_h"]["conv"]["bias"] = np.asarray(bias) + 1e-3
  rows = compare_to_reference(cfg, variables, _reference(folder))
  assert max(r.max_abs_error for r in rows) > ATOL

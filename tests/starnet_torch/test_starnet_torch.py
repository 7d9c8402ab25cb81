"""The PyTorch restatement must compute what the authors' release computed (shared/parity)."""

import json

import numpy as np
import pytest
import torch

from star_jax.errors import UserInputError
from starnet_torch import build_model, load_release_state_dict

FOLDERS = ["V1_x4", "V2_x4", "V3_x4", "V4_x4", "V4_x2", "V4_x8", "V4_REF_x4"]
OUTPUT_NAMES = ("ht", "h1", "h2", "l")
ATOL = 1e-4


def _load_fixture(shared_dir, folder):
  root = shared_dir / "parity" / folder
  meta = json.loads((root / "meta.json").read_text())
  ctor = meta["constructor"]
  model = build_model(meta["variant"], ctor["base_filter"], ctor["feat"], ctor["num_stages"],
                      ctor["n_resblock"], ctor["scale_factor"])
  model.load_state_dict(load_release_state_dict(root / "model.pth.gz"), strict=True)
  with np.load(root / "io.npz") as npz:
    arrays = {k: npz[k] for k in npz.files}
  inputs = [torch.from_numpy(arrays[k]) for k in ("im1", "im2", "flow_f", "flow_b")]
  return meta, model, inputs, arrays


def _assert_close(name, got, want):
  got = got.detach().numpy()
  assert got.shape == want.shape, f"{name}: shape {got.shape} != {want.shape}"
  err = float(np.max(np.abs(got - want)))
  assert err <= ATOL, f"{name}: max abs error {err:.3g} > {ATOL}"


@pytest.mark.parametrize("folder", FOLDERS)
def test_matches_release_eval_and_train(shared_dir, folder):
  meta, model, inputs, arrays = _load_fixture(shared_dir, folder)
  is_fr = meta["variant"].endswith("_REF")

  model.eval()
  with torch.no_grad():
    eval_out = model(*inputs, train=False)
  assert len(eval_out) == 4
  for name, got in zip(OUTPUT_NAMES, eval_out):
    _assert_close(f"eval_{name}", got, arrays[f"eval_{name}"])

  model.train()
  with torch.no_grad():
    train_out = model(*inputs, train=True)
  assert len(train_out) == (6 if is_fr else 4)
  for name, stages in zip(OUTPUT_NAMES, train_out):
    assert len(stages) == 2
    for index, got in enumerate(stages):
      _assert_close(f"train_{name}_{index}", got, arrays[f"train_{name}_{index}"])
  if is_fr:
    _assert_close("train_flow_f", train_out[4], arrays["train_flow_f"])
    _assert_close("train_flow_b", train_out[5], arrays["train_flow_b"])
    state = model.state_dict()
    stat_keys = [k for k in arrays if k.startswith("after_train/")]
    assert stat_keys, "the FR fixture should carry BatchNorm statistics"
    for key in stat_keys:
      state_key = key[len("after_train/"):].removeprefix("module.")
      _assert_close(key, state[state_key], arrays[key])


def test_build_model_accepts_release_names_and_rejects_unknown():
  model = build_model("FBPNSR_RBPN_V3", 16, 8, 3, 2, 4)
  assert hasattr(model, "t_net_lr") and not hasattr(model, "t_net_hr")
  with pytest.raises(ValueError, match="V5"):
    build_model("V5")
  with pytest.raises(ValueError, match="scale_factor=3"):
    build_model("V4", 16, 8, 3, 2, 3)


def test_load_release_state_dict_names_missing_file(tmp_path):
  missing = tmp_path / "nope.pth"
  with pytest.raises(UserInputError, match="nope.pth"):
    load_release_state_dict(missing)

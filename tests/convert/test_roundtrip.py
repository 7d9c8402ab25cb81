"""torch -> JAX -> torch is bit-exact, release-loadable, and checkpoints survive orbax."""

import numpy as np
import pytest
import torch

from star_jax.convert import mapping, release_to_variables, torch_io
from star_jax.cli import convert as convert_cli
from star_jax.weights import load_checkpoint, save_checkpoint
import starnet_torch


@pytest.mark.parametrize("name", ["V1_x4", "V4_REF_x4"])
def test_torch_jax_torch_bit_exact(shared_dir, tmp_path, name):
  source = shared_dir / "parity" / name / "model.pth.gz"
  original = torch_io.load_release_state_dict(source)
  cfg, variables = release_to_variables(original)
  ckpt = save_checkpoint(tmp_path / "ckpt", cfg, variables)
  cfg2, restored = load_checkpoint(ckpt)
  assert cfg2.to_dict() == cfg.to_dict()
  out = tmp_path / "back.pth"
  torch_io.save_release_state_dict(mapping.variables_to_state_dict(restored), out)

  raw = torch.load(out, map_location="cpu", weights_only=True)
  assert all(k.startswith("module.") for k in raw)  # DataParallel layout, as released
  back = {k[len("module."):]: v for k, v in raw.items()}
  assert set(back) == set(original)
  for key, value in original.items():
    tensor = back[key]
    assert tensor.dtype == torch.from_numpy(value).dtype, key
    assert tensor.shape == value.shape, key
    np.testing.assert_array_equal(tensor.numpy(), value, err_msg=key)
  if name.endswith("REF_x4"):
    assert any(k.endswith("num_batches_tracked") for k in back)


def test_cli_round_trip_and_release_model_loads_it(shared_dir, tmp_path):
  """The exported file loads strictly into a PyTorch STARnet with the release's names."""
  src = shared_dir / "parity" / "V2_x4" / "model.pth.gz"
  assert convert_cli.main(["to-flax", str(src), str(tmp_path / "ck")]) == 0
  assert convert_cli.main(["to-torch", str(tmp_path / "ck"), str(tmp_path / "out.pth")]) == 0
  state = torch.load(tmp_path / "out.pth", map_location="cpu", weights_only=True)
  model = starnet_torch.build_model("V2", base_filter=16, feat=8, n_resblock=2,
                                    scale_factor=4)
  wrapped = torch.nn.DataParallel(model)
  wrapped.load_state_dict(state, strict=True)

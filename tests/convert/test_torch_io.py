"""Reading ``.pth`` files as users have them: any float dtype, the common wrapper layouts,
and one-line refusals of pickled models and of files without a state dict."""

import argparse
import gzip

import jax
import numpy as np
import pytest
import torch

from star_jax.convert import torch_io
from star_jax.cli import convert as convert_cli
from star_jax.weights import load_weights


@pytest.fixture(scope="module")
def release(shared_dir, tmp_path_factory):
  """The narrow V4 x2 release checkpoint as a plain .pth and as its torch tensors."""
  path = tmp_path_factory.mktemp("release") / "model.pth"
  path.write_bytes(gzip.decompress((shared_dir / "parity" / "V4_x2" / "model.pth.gz").read_bytes()))
  return path, torch.load(path, map_location="cpu", weights_only=True)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float64])
def test_every_float_dtype_loads_as_float32(release, tmp_path, dtype):
  path, tensors = release
  cast = {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}
  torch.save(cast, tmp_path / "cast.pth")
  loaded = torch_io.load_release_state_dict(tmp_path / "cast.pth")
  # The fp32 weights passed through the same dtype: bf16/fp16 values are exact in float32.
  for key, value in tensors.items():
    want = (value.to(dtype).to(torch.float32) if value.is_floating_point() else value).numpy()
    got = loaded[key[len("module."):]]
    assert got.dtype == want.dtype, key
    np.testing.assert_array_equal(got, want, err_msg=key)
  if dtype != torch.bfloat16:
    return
  # Through to the model's parameters: float32, equal to the bf16-rounded originals, and
  # not equal to the fp32 originals (so this can fail).
  _, variables = load_weights(tmp_path / "cast.pth")
  kernel = np.asarray(variables["params"]["RBPN"]["feat0"]["conv"]["kernel"])
  original = tensors["module.RBPN.feat0.conv.weight"]
  assert kernel.dtype == np.float32
  np.testing.assert_array_equal(
      kernel, original.to(torch.bfloat16).to(torch.float32).numpy().transpose(2, 3, 1, 0))
  assert not np.array_equal(kernel, original.numpy().transpose(2, 3, 1, 0))
  assert all(leaf.dtype == np.float32 for leaf in jax.tree_util.tree_leaves(variables["params"]))


@pytest.mark.parametrize("wrapper", ["params", "state_dict", "model", "params_ema"])
def test_wrapped_state_dicts_are_unwrapped_with_a_notice(release, tmp_path, capsys, wrapper):
  path, tensors = release
  torch.save({wrapper: tensors, "iter": 1000}, tmp_path / "wrapped.pth")
  loaded = torch_io.load_release_state_dict(tmp_path / "wrapped.pth")
  plain = torch_io.load_release_state_dict(path)
  assert set(loaded) == set(plain)
  assert all(np.array_equal(loaded[k], plain[k]) for k in plain)
  assert capsys.readouterr().err.strip().splitlines() == [
      f"notice: {tmp_path / 'wrapped.pth'}: using the weights under {wrapper!r}"]


def test_ema_weights_are_preferred(release, tmp_path):
  _, tensors = release
  zeros = {k: torch.zeros_like(v) for k, v in tensors.items()}
  torch.save({"params": zeros, "params_ema": tensors}, tmp_path / "both.pth")
  loaded = torch_io.load_release_state_dict(tmp_path / "both.pth")
  key = "module.RBPN.feat0.conv.weight"
  np.testing.assert_array_equal(loaded[key[len("module."):]], tensors[key].numpy())


def test_no_state_dict_inside_names_the_keys_found(release, tmp_path, capsys):
  _, tensors = release
  torch.save({"generator": tensors, "epoch": 3}, tmp_path / "other.pth")
  assert convert_cli.main(["detect", str(tmp_path / "other.pth")]) == 2
  assert capsys.readouterr().err.strip().splitlines() == [
      f"error: {tmp_path / 'other.pth'} does not hold a state dict of tensors: its top-level "
      "keys are ['epoch', 'generator'] (expected parameter names, or the weights under one "
      "of 'params_ema', 'params', 'state_dict', 'model')"]


class TinyNet(torch.nn.Module):

  def __init__(self):
    super().__init__()
    self.conv = torch.nn.Conv2d(3, 4, 3)


def test_pickled_model_is_refused_in_one_line_without_unpickling(tmp_path, capsys):
  torch.save(TinyNet(), tmp_path / "model.pth")
  assert convert_cli.main(["detect", str(tmp_path / "model.pth")]) == 2
  assert capsys.readouterr().err.strip().splitlines() == [
      f"error: {tmp_path / 'model.pth'} holds a pickled model "
      f"({__name__}.TinyNet), not a state dict; save one with "
      "torch.save(model.state_dict(), path) (a pickled model is not loaded: unpickling it "
      "could run arbitrary code)"]
  torch.save({"state_dict": TinyNet().state_dict(), "args": argparse.Namespace(lr=1)},
             tmp_path / "with_args.pth")
  with pytest.raises(ValueError, match=r"^\S+with_args\.pth holds Python objects besides "
                     r"tensors \(argparse\.Namespace\), which are not unpickled"):
    torch_io.load_state_dict(tmp_path / "with_args.pth")

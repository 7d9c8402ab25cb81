"""torchvision VGG19 state dict -> Flax: same features as PyTorch, strict key checking."""

import jax.numpy as jnp
import numpy as np
import pytest
import torch

from star_jax.convert.vgg import (load_vgg19_variables, torchvision_conv_layout,
                                  vgg19_variables_from_torch)
from star_jax.errors import UserInputError
from star_jax.model.vgg import VGG19Features
from starnet_torch import VGG19Features as TorchVGG19Features


@pytest.fixture(scope="module")
def torch_vgg():
  torch.manual_seed(0)
  model = TorchVGG19Features().eval()
  # He-normal weights keep the input's signal alive through 16 layers (torch's default
  # init shrinks it until relu5_4 reflects mostly the biases, and a wrongly laid-out kernel
  # would go unnoticed); non-zero biases make the bias mapping matter too.
  with torch.no_grad():
    for module in model.features:
      if isinstance(module, torch.nn.Conv2d):
        torch.nn.init.kaiming_normal_(module.weight)
        module.bias.normal_(0.0, 0.05)
  return model


def _relative_error(got, want):
  return float(np.max(np.abs(got - want)) / np.max(np.abs(want)))


def test_converted_features_match_torch(torch_vgg):
  x = torch.randn(1, 3, 32, 48, generator=torch.Generator().manual_seed(1))
  with torch.no_grad():
    want = torch_vgg(x).numpy().transpose(0, 2, 3, 1)
  variables = vgg19_variables_from_torch(torch_vgg.state_dict())
  got = np.asarray(VGG19Features().apply(variables, jnp.asarray(x.numpy().transpose(0, 2, 3, 1))))
  assert got.shape == want.shape == (1, 2, 3, 512)
  assert np.max(np.abs(want)) > 0
  assert _relative_error(got, want) <= 1e-4


def test_layout_matches_torchvision_indices(torch_vgg):
  layout = torchvision_conv_layout()
  conv_indices = [i for i, m in enumerate(torch_vgg.features) if isinstance(m, torch.nn.Conv2d)]
  assert [index for index, _, _ in layout.values()] == conv_indices
  assert conv_indices[-1] == 34 and len(torch_vgg.features) == 36


def test_full_vgg19_state_dict_classifier_is_ignored(torch_vgg):
  state = dict(torch_vgg.state_dict())
  state["classifier.0.weight"] = torch.zeros(4096, 25088)[:2]
  state["classifier.6.bias"] = torch.zeros(1000)
  variables = vgg19_variables_from_torch(state)
  assert len(variables["params"]) == 16
  np.testing.assert_array_equal(variables["params"]["conv5_4"]["bias"],
                                state["features.34.bias"].numpy())
  np.testing.assert_array_equal(variables["params"]["conv1_1"]["kernel"],
                                state["features.0.weight"].numpy().transpose(2, 3, 1, 0))


def test_missing_unexpected_and_misshaped_keys_are_listed(torch_vgg):
  state = dict(torch_vgg.state_dict())
  del state["features.5.bias"]
  del state["features.28.weight"]
  state["features.2.weight"] = state["features.2.weight"][:, :32]
  state["features.40.weight"] = torch.zeros(1)
  with pytest.raises(ValueError) as info:
    vgg19_variables_from_torch(state)
  message = str(info.value)
  assert "missing keys: features.5.bias, features.28.weight" in message
  assert "unexpected keys: features.40.weight" in message
  assert "features.2.weight: got (64, 32, 3, 3), expected (64, 64, 3, 3)" in message


def test_load_vgg19_variables_reads_pth(torch_vgg, tmp_path):
  path = tmp_path / "vgg19.pth"
  torch.save(torch_vgg.state_dict(), path)
  variables = load_vgg19_variables(path, param_dtype=jnp.bfloat16)
  assert variables["params"]["conv3_2"]["kernel"].shape == (3, 3, 256, 256)
  assert variables["params"]["conv3_2"]["kernel"].dtype == jnp.bfloat16
  with pytest.raises(UserInputError, match="absent.pth"):
    load_vgg19_variables(tmp_path / "absent.pth")

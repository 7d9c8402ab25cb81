"""VGG19Features: torchvision's layer layout through relu5_4, NHWC, dtype handling."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from star_jax.model.vgg import VGG19Features, vgg19_conv_names


@pytest.fixture(scope="module")
def fp32_variables():
  """One jitted init (parameters do not depend on the spatial size); eager init is slow."""
  return jax.jit(VGG19Features().init)(jax.random.key(1), jnp.zeros((1, 16, 16, 3)))


def test_output_is_relu5_4_at_one_sixteenth_resolution(fp32_variables):
  model = VGG19Features()
  x = jax.random.normal(jax.random.key(0), (2, 32, 48, 3))
  y = jax.jit(model.apply)(fp32_variables, x)
  assert y.shape == (2, 2, 3, 512)
  assert y.dtype == jnp.float32
  assert float(jnp.min(y)) >= 0.0  # ends in ReLU, no final max-pool
  assert float(jnp.max(y)) > 0.0


def test_odd_sides_are_floored_by_each_pool():
  model = VGG19Features()
  x = jnp.zeros((1, 35, 50, 3))
  shapes = jax.eval_shape(lambda: model.apply(model.init(jax.random.key(0), x), x))
  # 35 -> 17 -> 8 -> 4 -> 2; 50 -> 25 -> 12 -> 6 -> 3 (torch MaxPool2d(2) floors too).
  assert shapes.shape == (1, 2, 3, 512)


def test_parameters_follow_vgg19_widths(fp32_variables):
  params = fp32_variables["params"]
  names = vgg19_conv_names()
  assert len(names) == 16 and names[0] == "conv1_1" and names[-1] == "conv5_4"
  assert sorted(params) == sorted(names)
  widths = [64] * 2 + [128] * 2 + [256] * 4 + [512] * 8
  in_channels = 3
  for name, width in zip(names, widths):
    assert params[name]["kernel"].shape == (3, 3, in_channels, width), name
    assert params[name]["bias"].shape == (width,), name
    in_channels = width
  n_params = sum(int(np.prod(p.shape)) for p in jax.tree_util.tree_leaves(params))
  assert n_params == 20_024_384  # torchvision vgg19.features parameter count


def test_bfloat16_compute_and_params():
  model = VGG19Features(dtype=jnp.bfloat16, param_dtype=jnp.bfloat16)
  x = jax.random.normal(jax.random.key(0), (1, 16, 16, 3))
  variables = jax.jit(model.init)(jax.random.key(1), x)
  assert all(p.dtype == jnp.bfloat16 for p in jax.tree_util.tree_leaves(variables))
  y = jax.jit(model.apply)(variables, x)
  assert y.dtype == jnp.bfloat16 and y.shape == (1, 1, 1, 512)

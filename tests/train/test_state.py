"""Learning-rate schedule, optimiser choice and init scaling."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from star_jax.train.config import base_config
from star_jax.model import build_model, sample_inputs
from star_jax.model.layers import ConvTranspose2d
from star_jax.train.state import (checkerboard_free_kernel, create_state, learning_rate_schedule,
                                  make_optimizer, path_name, scale_kernels,
                                  transposed_conv_strides)


def test_step_decay_every_n_epochs():
  schedule = learning_rate_schedule(1e-4, steps_per_epoch=10, decay_every_epochs=30,
                                    decay_factor=0.1)
  for step, lr in ((0, 1e-4), (299, 1e-4), (300, 1e-5), (599, 1e-5), (600, 1e-6)):
    np.testing.assert_allclose(float(schedule(step)), lr, rtol=1e-6)


def test_scale_kernels_touches_only_kernels():
  params = {"a": {"kernel": jnp.ones((3, 3, 2, 2)), "bias": jnp.ones(2)},
            "act": {"weight": jnp.full((1,), 0.25)}}
  scaled = scale_kernels(params, 0.5)
  np.testing.assert_array_equal(scaled["a"]["kernel"], 0.5)
  np.testing.assert_array_equal(scaled["a"]["bias"], 1.0)
  np.testing.assert_array_equal(scaled["act"]["weight"], 0.25)
  assert scale_kernels(params, 1.0) is params


def test_scale_kernels_gain_by_path_regex():
  params = {"motion_feat": {"conv": {"kernel": jnp.ones((3, 3, 4, 2))}},
            "motion": {"conv": {"kernel": jnp.ones((3, 3, 2, 2))}}}
  scaled = scale_kernels(params, 0.5, (("motion_feat/conv/kernel", 20.0), (".*", 3.0)))
  np.testing.assert_array_equal(scaled["motion_feat"]["conv"]["kernel"], 20.0)
  np.testing.assert_array_equal(scaled["motion"]["conv"]["kernel"], 3.0)  # first match wins
  partial = scale_kernels(params, 0.5, (("motion_feat", 20.0),))  # full match only
  np.testing.assert_array_equal(partial["motion_feat"]["conv"]["kernel"], 0.5)


def _second_update(tx, params):
  """Two steps with different gradients: the second tells adam and adamax apart."""
  state = tx.init(params)
  _, state = tx.update(jnp.array([0.5, -1e-3, 2.0]), state, params)
  updates, _ = tx.update(jnp.array([-0.1, 4.0, 2.0]), state, params)
  return np.asarray(updates)


@pytest.mark.parametrize("name, reference", [("adamax", optax.adamax), ("adam", optax.adam)])
def test_optimizer_by_name(name, reference):
  config = base_config()
  config.optimizer.name = name
  params = jnp.array([1.0, -2.0, 3.0])
  expected = _second_update(reference(1e-2, b1=0.9, b2=0.999, eps=1e-8), params)
  np.testing.assert_array_equal(_second_update(make_optimizer(config, 1e-2), params), expected)


def test_unknown_optimizer_is_named():
  config = ml_collections.ConfigDict(dict(optimizer=dict(
      name="sgd", learning_rate=1e-3, b1=0.9, b2=0.999, eps=1e-8)))
  with pytest.raises(ValueError, match="'sgd'"):
    make_optimizer(config, 1e-3)


@pytest.mark.parametrize("kernel_size,stride", [(8, 4), (4, 2), (6, 2), (12, 8)])
def test_checkerboard_free_kernel_gives_constant_output_for_constant_input(kernel_size, stride):
  """Every output phase gets the same total weight: a constant input maps to a constant
  output (away from the borders), which the release's Kaiming draw does not."""
  padding = 1 if kernel_size == 4 else 2
  layer = ConvTranspose2d(3, kernel_size, stride, padding)
  x = jnp.ones((1, 12, 12, 2))
  kernel = checkerboard_free_kernel(jax.random.key(0), kernel_size, stride, 3, 2)
  variables = {"params": {"kernel": kernel, "bias": jnp.zeros(3)}}
  inner = layer.apply(variables, x)[:, kernel_size:-kernel_size, kernel_size:-kernel_size]
  np.testing.assert_allclose(inner, np.broadcast_to(inner[:, :1, :1], inner.shape), atol=1e-5)
  kaiming = layer.init(jax.random.key(0), x)
  inner = layer.apply(kaiming, x)[:, kernel_size:-kernel_size, kernel_size:-kernel_size]
  assert float(jnp.std(inner - inner[:, :1, :1])) > 1e-2
  with pytest.raises(ValueError, match="stride <= kernel_size"):
    checkerboard_free_kernel(jax.random.key(0), 2, 4, 3, 2)


def test_create_state_icnr_redraws_every_strided_transposed_kernel_only():
  model = build_model(dict(variant="V4", base_filter=8, feat=4, n_resblock=1))
  strides = transposed_conv_strides(model, sample_inputs())
  assert strides and set(strides.values()) == {2, 4}  # pyramid (x2) and projections (x4)
  kw = dict(tx=optax.adam(1e-3), rng=jax.random.key(0), sample_inputs=sample_inputs())
  kaiming = create_state(model, **kw).params
  icnr = create_state(model, init_transposed="icnr", **kw).params
  flat = lambda params: {path_name(p): v for p, v in
                         jax.tree_util.tree_flatten_with_path(params)[0]}
  changed = {name for name, value in flat(icnr).items()
             if not np.array_equal(value, flat(kaiming)[name])}
  assert changed == {"/".join(path) + "/kernel" for path in strides}
  with pytest.raises(ValueError, match="init_transposed must be"):
    create_state(model, init_transposed="orthogonal", **kw)

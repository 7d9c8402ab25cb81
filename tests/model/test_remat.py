"""Every remat policy computes the same loss and gradients as 'none', with the same
parameter tree (narrow models, training mode)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from star_jax.model import build_model
from star_jax.model.remat import REMAT_MODES
from star_jax.train import objectives

NARROW = dict(base_filter=8, feat=4, n_resblock=1)
B, H, W, SCALE = 2, 32, 32, 4  # the FR UNet pools 5 times: 32 px LR keeps every level >= 1


def _batch(seed=0):
  rng = np.random.default_rng(seed)
  im = lambda h, w: jnp.asarray(rng.normal(size=(B, h, w, 3)), jnp.float32)
  fl = lambda: jnp.asarray(rng.uniform(-0.05, 0.05, size=(B, H, W, 2)), jnp.float32)
  batch = dict(im1=im(H, W), im2=im(H, W), flow_f=fl(), flow_b=fl(), lr_t=im(H, W),
               gt_flow_f=fl(), gt_flow_b=fl())
  batch.update({k: im(H * SCALE, W * SCALE) for k in ("hr_t", "hr1", "hr2")})
  return batch


def _loss_and_grads(variant, remat, variables, batch):
  model = build_model(dict(variant=variant, scale=SCALE, remat=remat, **NARROW))
  inputs = [batch[k] for k in ("im1", "im2", "flow_f", "flow_b")]

  def loss(params):
    v = dict(variables, params=params)
    if "batch_stats" in v:
      out, updates = model.apply(v, *inputs, train=True, mutable=["batch_stats"])
    else:
      out, updates = model.apply(v, *inputs, train=True), {}
    return objectives.star_loss(out, batch, "STAR")["total"], updates

  (value, updates), grads = jax.jit(jax.value_and_grad(loss, has_aux=True))(variables["params"])
  return value, grads, updates


@pytest.mark.parametrize("variant", [pytest.param("V4_REF", marks=pytest.mark.slow), "V2"])
def test_each_policy_equals_none_within_1e5_relative(variant):
  batch = _batch()
  inputs = [batch[k] for k in ("im1", "im2", "flow_f", "flow_b")]
  init = functools.partial(jax.jit(build_model(dict(variant=variant, scale=SCALE,
                                                    **NARROW)).init), jax.random.key(0))
  variables = init(*inputs)
  loss_none, grads_none, updates_none = _loss_and_grads(variant, "none", variables, batch)
  # Relative to the largest gradient entry: the UNet's conv biases feed train-mode BatchNorm,
  # so their true gradient is 0 and their computed one is rounding noise (~1e-6).
  scale = max(float(jnp.max(jnp.abs(g))) for g in jax.tree_util.tree_leaves(grads_none))
  for remat in REMAT_MODES[1:]:
    remat_model = build_model(dict(variant=variant, scale=SCALE, remat=remat, **NARROW))
    shapes = jax.eval_shape(remat_model.init, jax.random.key(0), *inputs)
    assert (jax.tree_util.tree_structure(shapes)
            == jax.tree_util.tree_structure(variables)), remat  # same parameter paths
    loss, grads, updates = _loss_and_grads(variant, remat, variables, batch)
    np.testing.assert_allclose(loss, loss_none, rtol=1e-5)
    for (path, g), g_none in zip(jax.tree_util.tree_leaves_with_path(grads),
                                 jax.tree_util.tree_leaves(grads_none)):
      np.testing.assert_allclose(g, g_none, rtol=1e-5, atol=1e-5 * scale,
                                 err_msg=f"{remat} {jax.tree_util.keystr(path)}")
    for a, b in zip(jax.tree_util.tree_leaves(updates), jax.tree_util.tree_leaves(updates_none)):
      np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)

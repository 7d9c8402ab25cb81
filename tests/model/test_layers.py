"""Primitive layers against PyTorch's own operators (torch is a test dependency)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from star_jax.model import layers


def _nchw(x):
  return torch.from_numpy(np.transpose(np.asarray(x), (0, 3, 1, 2)).copy())


@pytest.mark.parametrize("k,s,p", [(6, 2, 2), (8, 4, 2), (12, 8, 2), (4, 2, 1)])
def test_conv_transpose_matches_torch(k, s, p):
  rng = np.random.default_rng(0)
  x = rng.normal(size=(2, 5, 7, 3)).astype(np.float32)
  ref = torch.nn.ConvTranspose2d(3, 4, k, s, p)
  layer = layers.conv_transpose2d(4, k, s, p)
  params = {"params": {"kernel": ref.weight.detach().numpy().transpose(2, 3, 1, 0),
                       "bias": ref.bias.detach().numpy()}}
  got = layer.apply(params, x)
  want = ref(_nchw(x)).detach().numpy().transpose(0, 2, 3, 1)
  assert got.shape == want.shape == (2, (5 - 1) * s - 2 * p + k, (7 - 1) * s - 2 * p + k, 4)
  np.testing.assert_allclose(got, want, atol=1e-5)



@pytest.mark.parametrize("k,s", [(8, 4), (6, 2), (12, 8), (4, 2)])
def test_matmul_overlap_add_custom_gradient_equals_autodiff(k, s):
  """The written-out VJP against jax's autodiff of the same forward (``.fun``)."""
  n = -(-k // s)
  rng = np.random.default_rng(1)
  x = jnp.asarray(rng.normal(size=(2, 5, 4, 3)).astype(np.float32))
  kernel = jnp.asarray(rng.normal(size=(3, n * n * s * s * 2)).astype(np.float32))
  cotangent = jnp.asarray(rng.normal(size=(2, (5 + n - 1) * s, (4 + n - 1) * s, 2))
                          .astype(np.float32))
  out, vjp = jax.vjp(lambda x, k: layers.matmul_overlap_add(x, k, n, s), x, kernel)
  want_out, want_vjp = jax.vjp(lambda x, k: layers.matmul_overlap_add.fun(x, k, n, s), x, kernel)
  np.testing.assert_array_equal(out, want_out)
  for got, want in zip(vjp(cotangent), want_vjp(cotangent)):
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * float(jnp.max(jnp.abs(want))))


def test_conv_transpose_gradients_match_torch():
  """Input, kernel and bias gradients of the layer (8/4/2, a projection's) against torch."""
  rng = np.random.default_rng(2)
  x = rng.normal(size=(2, 5, 7, 3)).astype(np.float32)
  ref = torch.nn.ConvTranspose2d(3, 4, 8, 4, 2)
  layer = layers.conv_transpose2d(4, 8, 4, 2)
  params = {"kernel": jnp.asarray(ref.weight.detach().numpy().transpose(2, 3, 1, 0)),
            "bias": jnp.asarray(ref.bias.detach().numpy())}
  weights = rng.normal(size=(2, 20, 28, 4)).astype(np.float32)
  loss = lambda params, x: jnp.sum(layer.apply({"params": params}, x) * weights)
  grad_params, grad_x = jax.grad(loss, argnums=(0, 1))(params, jnp.asarray(x))
  x_t = _nchw(x).requires_grad_(True)
  (ref(x_t) * _nchw(weights)).sum().backward()
  np.testing.assert_allclose(grad_x, x_t.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(grad_params["kernel"], ref.weight.grad.numpy().transpose(2, 3, 1, 0),
                             rtol=1e-4, atol=1e-3)
  np.testing.assert_allclose(grad_params["bias"], ref.bias.grad.numpy(), rtol=1e-4, atol=1e-3)

def test_conv_matches_torch():
  rng = np.random.default_rng(1)
  x = rng.normal(size=(1, 9, 6, 3)).astype(np.float32)
  ref = torch.nn.Conv2d(3, 5, 8, 4, 2)
  params = {"params": {"kernel": ref.weight.detach().numpy().transpose(2, 3, 1, 0),
                       "bias": ref.bias.detach().numpy()}}
  got = layers.conv2d(5, 8, 4, 2).apply(params, x)
  np.testing.assert_allclose(got, ref(_nchw(x)).detach().numpy().transpose(0, 2, 3, 1),
                             atol=1e-5)


@pytest.mark.parametrize("hw,factor", [((3, 5), 2), ((4, 4), 4), ((1, 3), 8), ((5, 2), 2)])
def test_upsample_align_corners_matches_torch(hw, factor):
  x = np.random.default_rng(2).normal(size=(2, *hw, 3)).astype(np.float32)
  got = layers.upsample_bilinear_align_corners(jnp.asarray(x), factor)
  want = torch.nn.functional.interpolate(_nchw(x), scale_factor=factor, mode="bilinear",
                                         align_corners=True).numpy().transpose(0, 2, 3, 1)
  np.testing.assert_allclose(got, want, atol=1e-6)


def test_batchnorm_train_and_eval_match_torch():
  rng = np.random.default_rng(3)
  ref = torch.nn.BatchNorm2d(4)
  with torch.no_grad():
    ref.weight.uniform_(0.5, 1.5), ref.bias.normal_(), ref.running_mean.normal_()
    ref.running_var.uniform_(0.5, 2.0)
  variables = {"params": {"scale": ref.weight.detach().numpy().copy(),
                          "bias": ref.bias.detach().numpy().copy()},
               "batch_stats": {"mean": ref.running_mean.numpy().copy(),
                               "var": ref.running_var.numpy().copy(),
                               "num_batches_tracked": np.int32(0)}}
  bn = layers.BatchNorm2d()
  x1, x2 = (rng.normal(2.0, 3.0, size=(2, 5, 3, 4)).astype(np.float32) for _ in range(2))
  # Two training steps in a row: the running stats must follow torch's (unbiased variance).
  for x in (x1, x2):
    got, updates = bn.apply(variables, x, True, mutable=["batch_stats"])
    variables = {**variables, **updates}
    ref.train()
    np.testing.assert_allclose(got, ref(_nchw(x)).detach().numpy().transpose(0, 2, 3, 1),
                               atol=1e-5)
  np.testing.assert_allclose(variables["batch_stats"]["mean"], ref.running_mean.numpy(), atol=1e-6)
  np.testing.assert_allclose(variables["batch_stats"]["var"], ref.running_var.numpy(), atol=1e-5)
  assert int(variables["batch_stats"]["num_batches_tracked"]) == int(ref.num_batches_tracked) == 2
  ref.eval()
  np.testing.assert_allclose(bn.apply(variables, x1, False),
                             ref(_nchw(x1)).detach().numpy().transpose(0, 2, 3, 1), atol=1e-5)


@pytest.mark.parametrize("transposed", [False, True])
def test_kaiming_init_std_matches_torch_fan_in(transposed):
  """torch computes fan_in from weight dim 1: in*k*k for Conv2d, out*k*k for ConvTranspose2d."""
  cin, cout, k = 64, 16, 4
  make = layers.conv_transpose2d if transposed else layers.conv2d
  v = make(cout, k, 2, 1).init(jax.random.key(0), jnp.zeros((1, 8, 8, cin)))
  kernel = np.asarray(v["params"]["kernel"])
  fan_in = (cout if transposed else cin) * k * k
  assert abs(kernel.std() / np.sqrt(2.0 / fan_in) - 1) < 0.05
  assert not np.any(np.asarray(v["params"]["bias"]))


@pytest.mark.parametrize("n,factor", [(1, 2), (2, 2), (7, 2), (5, 4), (3, 8), (64, 4)])
def test_align_corners_row_taps_hold_the_whole_interpolation_matrix(n, factor):
  """Every output row's weights lie on its input row and that row's neighbours (what makes
  the height interpolation local for a height split over devices)."""
  taps = layers._align_corners_row_taps(n, factor)  # pylint: disable=protected-access
  dense = np.zeros((n * factor, n), np.float32)
  for o in range(n * factor):
    i, j = divmod(o, factor)
    for d in (-1, 0, 1):
      if 0 <= i + d < n:
        dense[o, i + d] += taps[d + 1, i, j]
  np.testing.assert_array_equal(dense, layers._align_corners_matrix(n, n * factor))  # pylint: disable=protected-access

"""Shapes, modes and structure of the STARnet modules (parity lives in tests/convert)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from star_jax.model import OUTPUT_NAMES, VARIANTS, build_model

NARROW = dict(base_filter=16, feat=8, n_resblock=2)


def _inputs(b, h, w, seed=0):
  rng = np.random.default_rng(seed)
  im = lambda: jnp.asarray(rng.normal(size=(b, h, w, 3)), jnp.float32)
  fl = lambda: jnp.asarray(rng.uniform(-0.05, 0.05, size=(b, h, w, 2)), jnp.float32)
  return im(), im(), fl(), fl()


@pytest.mark.parametrize("scale,hw", [(2, (6, 10)), (4, (5, 7)), (8, (4, 6))])
def test_core_output_shapes_per_scale(scale, hw):
  model = build_model(dict(variant="V4", scale=scale, **NARROW))
  xs = _inputs(1, *hw)
  variables = model.init(jax.random.key(0), *xs)
  out = jax.eval_shape(lambda: model.apply(variables, *xs))
  h, w = hw
  assert {k: v.shape for k, v in out.items()} == {
      "ht": (1, scale * h, scale * w, 3), "h1": (1, scale * h, scale * w, 3),
      "h2": (1, scale * h, scale * w, 3), "l": (1, h, w, 3)}


@pytest.mark.parametrize("hw", [(13, 21), (36, 44), (7, 9)])
def test_fr_model_accepts_sides_not_multiple_of_32(hw):
  model = build_model(dict(variant="V3_REF", scale=4, **NARROW))
  xs = _inputs(1, *hw)
  variables = jax.eval_shape(lambda: model.init(jax.random.key(0), *xs))
  out, _ = jax.eval_shape(lambda v: model.apply(v, *xs, train=True, mutable=["batch_stats"]),
                          variables)
  assert out["ht"][1].shape == (1, 4 * hw[0], 4 * hw[1], 3)
  assert out["flow_f"].shape == out["flow_b"].shape == (1, *hw, 2)


def test_train_mode_returns_two_stages_and_eval_the_final_one():
  model = build_model(dict(variant="V2", scale=4, **NARROW))
  xs = _inputs(2, 6, 8)
  variables = model.init(jax.random.key(1), *xs)
  train = model.apply(variables, *xs, train=True)
  evald = model.apply(variables, *xs, train=False)
  assert set(train) == set(evald) == set(OUTPUT_NAMES)
  for name in OUTPUT_NAMES:
    stage1, stage2 = train[name]
    np.testing.assert_array_equal(stage2, evald[name])  # no BatchNorm in the core
    assert not np.allclose(stage1, stage2)


def test_fr_refinement_changes_flows_and_batch_stats():
  model = build_model(dict(variant="V1_REF", scale=4, **NARROW))
  xs = _inputs(2, 9, 11)
  variables = model.init(jax.random.key(2), *xs)
  out, updates = model.apply(variables, *xs, train=True, mutable=["batch_stats"])
  assert not np.allclose(out["flow_f"], xs[2])
  stats = updates["batch_stats"]["flow_net"]["inc"]["conv"]["conv"]["1"]
  assert int(stats["num_batches_tracked"]) == 2  # the UNet runs once per direction


def test_skip_refinement_and_noise_switches():
  xs = _inputs(1, 8, 8)
  skip = build_model(dict(variant="V1_REF", skip_refinement=True, **NARROW))
  variables = skip.init(jax.random.key(3), *xs)
  out, _ = skip.apply(variables, *xs, train=True, mutable=["batch_stats"])
  np.testing.assert_array_equal(out["flow_f"], xs[2])
  noisy = build_model(dict(variant="V1_REF", skip_refinement=True, flow_noise_std=0.1, **NARROW))
  out, _ = noisy.apply(variables, *xs, train=True, mutable=["batch_stats"],
                       rngs={"noise": jax.random.key(4)})
  assert 0.05 < float(jnp.std(out["flow_f"] - xs[2])) < 0.2


def test_release_parameter_counts_and_rbpn_res_feat3_kept():
  """Full-width counts (the release's (256, 64, 5)); res_feat3 exists though unused."""
  xs = _inputs(1, 8, 8)
  counts = {}
  for variant in ("V1", "V4"):
    model = build_model(dict(variant=variant))
    v = jax.eval_shape(lambda: model.init(jax.random.key(0), *xs))
    counts[variant] = sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(v))
    assert "res_feat3" in v["params"]["RBPN"]
  assert counts["V4"] > counts["V1"] > 10_000_000


def test_bad_variant_and_unknown_field_are_refused():
  with pytest.raises(ValueError, match="V5"):
    build_model(dict(variant="V5"))
  with pytest.raises(ValueError, match="n_resblocks"):
    build_model(dict(variant="V4", n_resblocks=3))
  assert len(VARIANTS) == 8


def test_bfloat16_compute_keeps_float32_params_and_outputs():
  model = build_model(dict(variant="V3_REF", dtype="bfloat16", **NARROW))
  xs = _inputs(1, 6, 6)
  variables = model.init(jax.random.key(0), *xs)
  assert all(x.dtype in (jnp.float32, jnp.int32) for x in jax.tree_util.tree_leaves(variables))
  out, updates = model.apply(variables, *xs, train=True, mutable=["batch_stats"])
  assert all(x.dtype == jnp.float32 for x in jax.tree_util.tree_leaves(out))
  assert all(x.dtype in (jnp.float32, jnp.int32)
             for x in jax.tree_util.tree_leaves(updates["batch_stats"]))
  assert all(v.dtype == jnp.float32 for v in model.apply(variables, *xs).values())


def test_bad_dtype_and_remat_are_refused():
  with pytest.raises(ValueError, match="float16"):
    build_model(dict(variant="V4", dtype="float16"))
  with pytest.raises(ValueError, match="model.remat.*'some'"):
    build_model(dict(variant="V4", remat="some"))


@pytest.mark.slow
def test_full_width_v4_ref_forward_small_lr():
  """The release's widths (256/64/5) and full UNet, at LR 16x20: finite, right shapes."""
  model = build_model(dict(variant="V4_REF"))
  xs = _inputs(1, 16, 20)
  variables = model.init(jax.random.key(0), *xs)
  out = jax.jit(lambda v, *a: model.apply(v, *a))(variables, *xs)
  assert out["ht"].shape == (1, 64, 80, 3) and out["l"].shape == (1, 16, 20, 3)
  assert all(bool(jnp.all(jnp.isfinite(v))) for v in out.values())


@pytest.mark.parametrize("variant", ["V4", "V2_REF"])
def test_residual_bicubic_adds_the_baselines_to_every_output(variant):
  """Same parameters; the outputs differ from the plain model's by exactly the bicubic /
  average baselines, in both training stages."""
  xs = _inputs(1, 6, 8)
  plain = build_model(dict(variant=variant, **NARROW))
  residual = build_model(dict(variant=variant, residual_bicubic=True, **NARROW))
  variables = plain.init(jax.random.key(5), *xs)
  assert (jax.tree_util.tree_structure(residual.init(jax.random.key(5), *xs))
          == jax.tree_util.tree_structure(variables))
  im1, im2 = xs[0], xs[1]
  up = lambda im: jax.image.resize(im, (1, 24, 32, 3), "cubic")
  base = {"ht": (up(im1) + up(im2)) / 2, "h1": up(im1), "h2": up(im2), "l": (im1 + im2) / 2}
  kwargs = dict(train=True, mutable=["batch_stats"]) if variant.endswith("_REF") else {}
  out_plain = plain.apply(variables, *xs, **kwargs)
  out_residual = residual.apply(variables, *xs, **kwargs)
  if kwargs:
    out_plain, out_residual = out_plain[0], out_residual[0]
  for name in OUTPUT_NAMES:
    stages = zip(out_plain[name], out_residual[name]) if kwargs else [
        (out_plain[name], out_residual[name])]
    for p, r in stages:
      np.testing.assert_allclose(r - p, base[name], atol=1e-3, err_msg=name)  # outputs ~1e2

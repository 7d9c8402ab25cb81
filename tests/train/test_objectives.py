"""Loss weights equal the spec on hand-computed cases."""

import jax.numpy as jnp
import numpy as np
import pytest

from star_jax.train import objectives


def _const(value, shape=(1, 2, 2, 3)):
  return jnp.full(shape, value, jnp.float32)


def _outputs(with_flows=False):
  # Every prediction is 0; stage 1 and stage 2 identical, so |error| = target value.
  outs = {name: (_const(0.0), _const(0.0)) for name in ("ht", "h1", "h2", "l")}
  if with_flows:
    outs.update(flow_f=_const(0.0, (1, 2, 2, 2)), flow_b=_const(0.0, (1, 2, 2, 2)))
  return outs


BATCH = {"hr_t": _const(1.0), "hr1": _const(2.0), "hr2": _const(3.0), "lr_t": _const(4.0),
         "gt_flow_f": _const(0.5, (1, 2, 2, 2)), "gt_flow_b": _const(1.0, (1, 2, 2, 2))}


@pytest.mark.parametrize("objective,expected", [
    # stage weights 0.4 + 1.0 = 1.4 times the objective-weighted sum of |targets|
    ("STAR", 1.4 * (1.0 + 0.5 * 2.0 + 0.5 * 3.0 + 4.0)),
    ("STAR-ST", 1.4 * (1.0 + 0.5 * 2.0 + 0.5 * 3.0)),
    ("STAR-S", 1.4 * (2.0 + 3.0)),
    ("STAR-T-LR", 1.4 * 4.0),
    ("STAR-T-HR", 1.4 * 4.0),
])
def test_pixel_loss_weights(objective, expected):
  terms = objectives.star_loss(_outputs(), BATCH, objective)
  np.testing.assert_allclose(float(terms["pixel"]), expected, rtol=1e-6)
  np.testing.assert_allclose(float(terms["total"]), expected, rtol=1e-6)


def test_stage_weights_are_point_four_and_one():
  outs = _outputs()
  outs["ht"] = (_const(1.0), _const(0.0))  # stage 1 exact, stage 2 off by 1
  terms = objectives.star_loss(outs, BATCH, "STAR")
  np.testing.assert_allclose(float(terms["pixel"]),
                             0.4 * 0 + 1.0 * 1 + 1.4 * (0.5 * 2 + 0.5 * 3 + 4), rtol=1e-6)


def test_flow_and_perceptual_weights():
  terms = objectives.star_loss(_outputs(with_flows=True), BATCH, "STAR-S")
  np.testing.assert_allclose(float(terms["flow"]), 0.5 ** 2 + 1.0 ** 2, rtol=1e-6)
  np.testing.assert_allclose(float(terms["total"]), 1.4 * 5.0 + 0.1 * 1.25, rtol=1e-6)
  # Perceptual: identity "features" make it the staged MSE of the weighted outputs.
  terms = objectives.star_loss(_outputs(with_flows=True), BATCH, "STAR-S", "Lf",
                               features=lambda x: x)
  np.testing.assert_allclose(float(terms["perceptual"]), 1.4 * (4.0 + 9.0), rtol=1e-6)
  np.testing.assert_allclose(float(terms["total"]), 1.4 * 5 + 0.1 * 1.25 + 0.1 * 1.4 * 13,
                             rtol=1e-6)


def test_bad_names_are_refused():
  with pytest.raises(ValueError, match="STAR-X"):
    objectives.star_loss(_outputs(), BATCH, "STAR-X")
  with pytest.raises(ValueError, match="VGG19"):
    objectives.star_loss(_outputs(), BATCH, "STAR", "Lf")

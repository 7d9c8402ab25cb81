"""STARnet's losses exactly as the release combines them.

Every output the objective names is a pair (stage 1, stage 2) in training mode and costs
``0.4 * loss(stage1) + 1.0 * loss(stage2)``. The objectives weight the outputs ht (HR t+1/2),
h1, h2 (HR t, t+1) and l (LR t+1/2). ``L_r = pixel + 0.1 * flow`` and
``L_f = L_r + 0.1 * perceptual`` (the paper's w1 = 1, w2 = w3 = 0.1).

The release's ``main.py`` computes exactly these (``mse_loss_calc``/``feat_loss_calc``:
``nn.L1Loss`` means, VGG19 ``features[:36]`` MSE against the target's features, weights
0.4 / 1.0 per stage and the objective's per output), and always trains ``L_f``; the paper's
headline numbers are ``L_r`` models. Checked against the release: tests/train/
test_trainstep_parity.py (loss, gradients and Adamax steps of ``L_r``) and
test_perceptual_loss.py (``L_f``, value and gradient).
"""

from typing import Callable, Dict, Mapping, Optional

import jax.numpy as jnp

from star_jax.errors import UserInputError

STAGE_WEIGHTS = (0.4, 1.0)
OBJECTIVE_WEIGHTS = {
    "STAR": {"ht": 1.0, "h1": 0.5, "h2": 0.5, "l": 1.0},
    "STAR-ST": {"ht": 1.0, "h1": 0.5, "h2": 0.5},
    "STAR-S": {"h1": 1.0, "h2": 1.0},
    "STAR-T-LR": {"l": 1.0},
    "STAR-T-HR": {"l": 1.0},  # HR inputs; the HR in-between frame is the target of ``l``.
}
# Model output -> batch key of its target (see star_jax.data.pipeline).
TARGET_KEYS = {"ht": "hr_t", "h1": "hr1", "h2": "hr2", "l": "lr_t"}
FLOW_WEIGHT = 0.1
PERCEPTUAL_WEIGHT = 0.1
LOSS_TYPES = ("Lr", "Lf")


def objective_weights(objective: str) -> Dict[str, float]:
  if objective not in OBJECTIVE_WEIGHTS:
    raise UserInputError(f"objective must be one of {sorted(OBJECTIVE_WEIGHTS)}, got {objective!r}")
  return OBJECTIVE_WEIGHTS[objective]


def l1(prediction, target):
  return jnp.mean(jnp.abs(prediction.astype(jnp.float32) - target.astype(jnp.float32)))


def mse(prediction, target):
  return jnp.mean(jnp.square(prediction.astype(jnp.float32) - target.astype(jnp.float32)))


def staged(loss_fn: Callable, stages, target):
  """0.4 * loss(stage 1) + 1.0 * loss(stage 2)."""
  return sum(w * loss_fn(s, target) for w, s in zip(STAGE_WEIGHTS, stages))


def star_loss(outputs: Mapping, batch: Mapping, objective: str, loss_type: str = "Lr",
              features: Optional[Callable] = None) -> Dict[str, jnp.ndarray]:
  """All loss terms for one batch; ``total`` is what is minimised.

  Args:
    outputs: training-mode model outputs ({name: (stage1, stage2)}, plus refined
      ``flow_f``/``flow_b`` for FR models).
    batch: the pipeline's batch (targets ``hr_t``, ``hr1``, ``hr2``, ``lr_t``, and
      ``gt_flow_f``/``gt_flow_b`` for FR models).
    objective: a key of OBJECTIVE_WEIGHTS.
    loss_type: 'Lr' (pixel + flow) or 'Lf' (Lr + perceptual; needs ``features``).
    features: image -> VGG19 features (relu5_4), for the perceptual term.
  Returns:
    {'pixel', 'flow' (FR only), 'perceptual' (Lf only), 'total'} scalars.
  """
  if loss_type not in LOSS_TYPES:
    raise UserInputError(f"loss_type must be one of {LOSS_TYPES}, got {loss_type!r}")
  weights = objective_weights(objective)
  terms = {"pixel": sum(w * staged(l1, outputs[name], batch[TARGET_KEYS[name]])
                        for name, w in weights.items())}
  total = terms["pixel"]
  if "flow_f" in outputs:
    terms["flow"] = (mse(outputs["flow_f"], batch["gt_flow_f"])
                     + mse(outputs["flow_b"], batch["gt_flow_b"]))
    total = total + FLOW_WEIGHT * terms["flow"]
  if loss_type == "Lf":
    if features is None:
      raise UserInputError("loss_type 'Lf' needs the VGG19 feature extractor")
    perceptual_mse = lambda p, t: mse(features(p), features(t))
    terms["perceptual"] = sum(w * staged(perceptual_mse, outputs[name], batch[TARGET_KEYS[name]])
                              for name, w in weights.items())
    total = total + PERCEPTUAL_WEIGHT * terms["perceptual"]
  terms["total"] = total
  return terms

"""Numerical parity of converted weights against outputs the release computed (``io.npz``).

The file format is that of ``shared/parity``: NCHW float32 inputs ``im1, im2, flow_f,
flow_b``; eval outputs ``eval_{ht,h1,h2,l}``; training-mode outputs ``train_{name}_{0,1}``
(stage 1, stage 2); for FR models the refined flows ``train_flow_{f,b}`` and
``after_train/<state-dict key>`` BatchNorm statistics after that one training forward.
"""

import dataclasses
from typing import Any, Dict, List, Mapping

import jax
import numpy as np

from star_jax.convert import mapping
from star_jax.convert.torch_io import DATA_PARALLEL_PREFIX
from star_jax.errors import UserInputError
from star_jax.model import OUTPUT_NAMES, build_model

AFTER_TRAIN_PREFIX = "after_train/"


@dataclasses.dataclass
class Row:
  name: str
  shape: tuple
  max_abs_error: float


def _nhwc(x):
  return np.transpose(np.asarray(x), (0, 2, 3, 1))


INPUT_KEYS = ("im1", "im2", "flow_f", "flow_b")
_HR_OUTPUTS = ("ht", "h1", "h2")  # at scale x the LR input size; 'l' and flows at 1x
_FR_KEYS = ("train_flow_f", "train_flow_b")


def _fr_model(model_cfg) -> bool:
  return str(model_cfg.variant).endswith("_REF")


def check_reference_matches(model_cfg, reference: Mapping[str, np.ndarray]) -> None:
  """Refuses, before any forward, a reference made by another kind of model.

  Checks the input keys and shapes, the scale implied by every HR output's size (``ht``,
  ``h1``, ``h2`` are ``scale`` x the LR input; ``l`` is 1x), and that flow-refinement
  outputs (``train_flow_*``, ``after_train/*``) are present exactly when the weights are an
  FR (``_REF``) model.

  Raises:
    ValueError: one line naming what does not fit, e.g. "the reference was made by a x2
      model (im1 20x12 -> eval_ht 40x24) but the weights are V4 x4".
  """
  weights = f"{model_cfg.variant} x{model_cfg.scale}"
  missing = [k for k in INPUT_KEYS if k not in reference]
  if missing:
    raise UserInputError(f"the reference lacks the inputs {missing} (has {sorted(reference)[:6]})")
  im1 = np.shape(reference["im1"])
  if len(im1) != 4 or im1[1] != 3:
    raise UserInputError(f"the reference's im1 has shape {im1}, not (B, 3, H, W)")
  for key in INPUT_KEYS[1:]:
    want = im1[:1] + ((3,) if key == "im2" else (2,)) + im1[2:]
    if tuple(np.shape(reference[key])) != want:
      raise UserInputError(f"the reference's {key} has shape {np.shape(reference[key])}, but im1 "
                           f"{im1} needs {want}")
  height, width = im1[2:]
  for key in reference:
    parts = key.split("_")
    if key.startswith(AFTER_TRAIN_PREFIX) or len(parts) < 2 or parts[1] not in _HR_OUTPUTS + ("l",):
      continue
    shape = np.shape(reference[key])
    factor = model_cfg.scale if parts[1] in _HR_OUTPUTS else 1
    if tuple(shape[2:]) == (height * factor, width * factor):
      continue
    if parts[1] in _HR_OUTPUTS and len(shape) == 4 and shape[2] % height == 0 and (
        shape[2] // height == shape[3] / width):
      raise UserInputError(f"the reference was made by a x{shape[2] // height} model (im1 "
                           f"{width}x{height} -> {key} {shape[3]}x{shape[2]}) but the weights are "
                           f"{weights}")
    raise UserInputError(f"the reference's {key} is {tuple(shape)}, but a {weights} model maps im1 "
                         f"{width}x{height} to {width * factor}x{height * factor}")
  fr_keys = sorted(k for k in reference if k in _FR_KEYS or k.startswith(AFTER_TRAIN_PREFIX))
  if fr_keys and not _fr_model(model_cfg):
    raise UserInputError(f"the reference holds flow-refinement outputs ({fr_keys[0]}, ... "
                         f"{len(fr_keys)} in all) but the weights are {weights}, without flow "
                         "refinement")
  if _fr_model(model_cfg) and not any(k in reference for k in _FR_KEYS):
    raise UserInputError(f"the weights are {weights} (flow refinement) but the reference has no "
                         f"refined flows ({', '.join(_FR_KEYS)}): it was made by a model "
                         "without it")


def compare_to_reference(model_cfg, variables: Mapping[str, Any],
                         reference: Mapping[str, np.ndarray]) -> List[Row]:
  """Run eval- and training-mode forwards on the reference inputs and return one row per
  reference output present (max abs error), in file order.

  Raises:
    ValueError: a reference of another model (``check_reference_matches``), before any
      forward runs.
  """
  check_reference_matches(model_cfg, reference)
  model = build_model(model_cfg)
  inputs = [_nhwc(reference[k]) for k in INPUT_KEYS]
  has_batch_stats = "batch_stats" in variables

  ours: Dict[str, np.ndarray] = {}
  eval_out = jax.jit(lambda v, *xs: model.apply(v, *xs, train=False))(variables, *inputs)
  ours.update({f"eval_{k}": v for k, v in eval_out.items()})

  def train_forward(v, *xs):
    if has_batch_stats:
      return model.apply(v, *xs, train=True, mutable=["batch_stats"])
    return model.apply(v, *xs, train=True), {}
  train_out, updates = jax.jit(train_forward)(variables, *inputs)
  for name in OUTPUT_NAMES:
    for stage in (0, 1):
      ours[f"train_{name}_{stage}"] = train_out[name][stage]
  for name in ("flow_f", "flow_b"):
    if name in train_out:
      ours[f"train_{name}"] = train_out[name]
  if updates:
    after = mapping.variables_to_state_dict({"batch_stats": updates["batch_stats"]})
    ours.update({AFTER_TRAIN_PREFIX + k: v for k, v in after.items()})

  def our_key(key):  # after_train keys are release keys, possibly with 'module.'
    if key.startswith(AFTER_TRAIN_PREFIX + DATA_PARALLEL_PREFIX):
      return AFTER_TRAIN_PREFIX + key[len(AFTER_TRAIN_PREFIX + DATA_PARALLEL_PREFIX):]
    return key

  rows = []
  for key in reference:
    if key in INPUT_KEYS:
      continue
    if our_key(key) not in ours:
      rows.append(Row(key, tuple(np.shape(reference[key])), float("inf")))
      continue
    ref = np.asarray(reference[key])
    got = np.asarray(ours[our_key(key)], dtype=np.float64)
    if not key.startswith(AFTER_TRAIN_PREFIX) and ref.ndim == 4:
      got = np.transpose(got, (0, 3, 1, 2))
    if got.shape != ref.shape:
      rows.append(Row(key, ref.shape, float("inf")))
      continue
    rows.append(Row(key, ref.shape, float(np.max(np.abs(got - ref))) if ref.size else 0.0))
  return rows


def format_table(rows: List[Row], atol: float) -> str:
  width = max([len(r.name) for r in rows] + [6])
  lines = [f"{'output':<{width}}  {'shape':<18}  {'max abs err':>11}  ok"]
  for r in rows:
    lines.append(f"{r.name:<{width}}  {str(r.shape):<18}  {r.max_abs_error:>11.3e}  "
                 f"{'yes' if r.max_abs_error <= atol else 'NO'}")
  return "\n".join(lines)

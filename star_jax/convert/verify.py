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
from star_jax.model import OUTPUT_NAMES, build_model

AFTER_TRAIN_PREFIX = "after_train/"


@dataclasses.dataclass
class Row:
  name: str
  shape: tuple
  max_abs_error: float


def _nhwc(x):
  return np.transpose(np.asarray(x), (0, 2, 3, 1))


def compare_to_reference(model_cfg, variables: Mapping[str, Any],
                         reference: Mapping[str, np.ndarray]) -> List[Row]:
  """Run eval- and training-mode forwards on the reference inputs and return one row per
  reference output present (max abs error), in file order."""
  model = build_model(model_cfg)
  inputs = [_nhwc(reference[k]) for k in ("im1", "im2", "flow_f", "flow_b")]
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
    if key in ("im1", "im2", "flow_f", "flow_b"):
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

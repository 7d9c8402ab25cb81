"""Flax variables <-> release state dict, by path.

Our modules are named so that a Flax variable path is the release's state-dict key with
``.`` -> ``/``; only the leaf differs. Conversion is therefore one table of leaf renames
plus the kernel layout change, and the *expected* state dict of a model is derived from
its own variable tree -- which is what lets us refuse any checkpoint that does not match
key for key and shape for shape.
"""

from typing import Any, Dict, Mapping, Optional, Tuple

import flax
import numpy as np

from star_jax.convert.detect import detect_model_config
from star_jax.errors import UserInputError
from star_jax.model import ModelConfig, abstract_variables

# (collection, flax leaf) -> torch leaf.
_LEAF_TO_TORCH = {
    ("params", "kernel"): "weight",
    ("params", "bias"): "bias",
    ("params", "weight"): "weight",  # PReLU slope, (1,) in both
    ("params", "scale"): "weight",   # BatchNorm gamma
    ("batch_stats", "mean"): "running_mean",
    ("batch_stats", "var"): "running_var",
    ("batch_stats", "num_batches_tracked"): "num_batches_tracked",
}
# Conv2d (out, in, kh, kw) and ConvTranspose2d (in, out, kh, kw) both map to Flax kernels
# by (2, 3, 1, 0); see star_jax.model.layers for why the transposed case is the same.
_TORCH_TO_FLAX_KERNEL = (2, 3, 1, 0)
_FLAX_TO_TORCH_KERNEL = (3, 2, 0, 1)

FlaxPath = Tuple[str, ...]


class CheckpointMismatchError(UserInputError):
  """A state dict that does not match the model: lists every offending key."""

  def __init__(self, missing=(), unexpected=(), mis_shaped=(), context=""):
    self.missing, self.unexpected, self.mis_shaped = list(missing), list(unexpected), list(mis_shaped)
    lines = [f"checkpoint does not match the model{(' ' + context) if context else ''}:"]
    for title, items in (("missing keys", self.missing), ("unexpected keys", self.unexpected),
                         ("mis-shaped keys (checkpoint vs model)", self.mis_shaped)):
      if items:
        lines.append(f"  {title} ({len(items)}):")
        lines.extend(f"    {item}" for item in items)
    super().__init__("\n".join(lines))


def torch_key(collection: str, path: FlaxPath) -> str:
  leaf = _LEAF_TO_TORCH.get((collection, path[-1]))
  if leaf is None:
    raise KeyError(f"no release name for Flax variable {collection}/{'/'.join(path)}")
  return ".".join(path[:-1] + (leaf,))


def torch_shape(path: FlaxPath, shape) -> Tuple[int, ...]:
  if path[-1] == "kernel":
    return tuple(shape[i] for i in _FLAX_TO_TORCH_KERNEL)
  return tuple(shape)


def expected_state_dict_shapes(variables) -> Dict[str, Tuple[Tuple[int, ...], str]]:
  """Release key -> (shape, 'float'|'int') for a Flax variable tree (arrays or shapes)."""
  out = {}
  for collection, tree in variables.items():
    for path, leaf in flax.traverse_util.flatten_dict(tree).items():
      kind = "int" if path[-1] == "num_batches_tracked" else "float"
      out[torch_key(collection, path)] = (torch_shape(path, leaf.shape), kind)
  return out


def check_state_dict(state_dict: Mapping[str, np.ndarray], variables_shape, context="") -> None:
  """Raise CheckpointMismatchError unless keys and shapes match exactly."""
  expected = expected_state_dict_shapes(variables_shape)
  missing = sorted(set(expected) - set(state_dict))
  unexpected = sorted(set(state_dict) - set(expected))
  mis_shaped = sorted(
      f"{k}: {tuple(np.shape(state_dict[k]))} vs {expected[k][0]}"
      for k in set(expected) & set(state_dict) if tuple(np.shape(state_dict[k])) != expected[k][0])
  if missing or unexpected or mis_shaped:
    raise CheckpointMismatchError(missing, unexpected, mis_shaped, context)


def state_dict_to_variables(state_dict: Mapping[str, np.ndarray], variables_shape,
                            context="") -> Dict[str, dict]:
  """Release state dict (``module.`` already stripped) -> Flax variables, all or nothing."""
  check_state_dict(state_dict, variables_shape, context)
  out = {}
  for collection, tree in variables_shape.items():
    flat = {}
    for path, leaf in flax.traverse_util.flatten_dict(tree).items():
      value = np.asarray(state_dict[torch_key(collection, path)])
      if path[-1] == "kernel":
        value = value.transpose(_TORCH_TO_FLAX_KERNEL)
      flat[path] = np.array(value, dtype=leaf.dtype, order="C").reshape(leaf.shape)
    out[collection] = flax.traverse_util.unflatten_dict(flat)
  return out


def variables_to_state_dict(variables) -> Dict[str, np.ndarray]:
  """Flax variables -> release state dict (no ``module.`` prefix), float32 / int64 leaves."""
  out = {}
  for collection, tree in variables.items():
    for path, leaf in flax.traverse_util.flatten_dict(tree).items():
      value = np.asarray(leaf)
      if path[-1] == "kernel":
        value = value.transpose(_FLAX_TO_TORCH_KERNEL)
      if path[-1] == "num_batches_tracked":
        value = value.astype(np.int64)
      elif value.dtype != np.float32:
        value = value.astype(np.float32)
      out[torch_key(collection, path)] = np.array(value, order="C")  # keeps 0-d shapes
  return out


def release_to_variables(state_dict: Mapping[str, np.ndarray], overrides: Optional[dict] = None
                         ) -> Tuple[ModelConfig, Dict[str, Any]]:
  """Release state dict (``module.`` already stripped) -> (model config, Flax variables).

  The config is detected from the keys and shapes (``detect_model_config``); ``overrides``
  replace detected fields (e.g. ``{'scale': 4}``; ``None`` values are ignored) and the state
  dict must then still match key for key and shape for shape.

  Raises:
    ValueError: not a STARnet state dict, or ambiguous (``detect_model_config``); an
      override ``ModelConfig`` refuses (unknown field, value out of range).
    CheckpointMismatchError: the state dict does not fit the (overridden) config.
  """
  cfg = detect_model_config(state_dict)
  if overrides:
    cfg = cfg.replace(**{k: v for k, v in overrides.items() if v is not None})
  variables = state_dict_to_variables(
      state_dict, abstract_variables(cfg), context=f"for {cfg.variant} x{cfg.scale} "
      f"(base_filter {cfg.base_filter}, feat {cfg.feat}, n_resblock {cfg.n_resblock})")
  return cfg, variables

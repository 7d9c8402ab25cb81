"""Reading and writing release-format ``.pth`` files (needs the optional ``torch`` extra)."""

import collections
import gzip
import io
import pathlib
from typing import Dict, Mapping

import numpy as np

DATA_PARALLEL_PREFIX = "module."


def _torch():
  try:
    import torch  # pylint: disable=import-outside-toplevel
  except ImportError as e:
    raise ImportError("reading/writing .pth files needs PyTorch: pip install 'star_jax[torch]'") from e
  return torch


def load_release_state_dict(path) -> Dict[str, np.ndarray]:
  """A release ``.pth`` (or ``.pth.gz``) as {key: numpy array}, ``module.`` stripped.

  Accepts state dicts saved with or without DataParallel's ``module.`` prefix (all keys or
  none), and files holding ``{'state_dict': ...}``.
  """
  torch = _torch()
  path = pathlib.Path(path)
  if not path.is_file():
    raise FileNotFoundError(f"checkpoint {path} does not exist")
  raw = path.read_bytes()
  if raw[:2] == b"\x1f\x8b":
    raw = gzip.decompress(raw)
  try:
    obj = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
  except Exception as e:  # torch raises several unrelated types for a foreign file
    raise ValueError(f"{path} is not a readable PyTorch checkpoint: {e}") from e
  if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
    obj = obj["state_dict"]
  if not isinstance(obj, Mapping) or not all(hasattr(v, "shape") for v in obj.values()):
    raise ValueError(f"{path} does not hold a state dict of tensors")
  prefixed = [k.startswith(DATA_PARALLEL_PREFIX) for k in obj]
  if any(prefixed) and not all(prefixed):
    odd = [k for k, p in zip(obj, prefixed) if not p][:5]
    raise ValueError(f"{path}: some keys have the 'module.' prefix and some do not, e.g. {odd}")
  strip = len(DATA_PARALLEL_PREFIX) if all(prefixed) and prefixed else 0
  return {k[strip:]: v.detach().cpu().numpy() for k, v in obj.items()}


def save_release_state_dict(state_dict: Mapping[str, np.ndarray], path) -> None:
  """Write ``state_dict`` as the release saves it: through DataParallel (``module.`` keys)."""
  torch = _torch()
  out = collections.OrderedDict(
      (DATA_PARALLEL_PREFIX + k, torch.from_numpy(np.array(v, order="C")))
      for k, v in state_dict.items())
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  torch.save(out, path)

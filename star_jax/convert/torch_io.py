"""Reading and writing release-format ``.pth`` files (needs the optional ``torch`` extra)."""

import collections
import gzip
import io
import pathlib
import pickletools
import sys
import zipfile
from typing import Dict, List, Mapping

import numpy as np

from star_jax.errors import UserInputError

DATA_PARALLEL_PREFIX = "module."


def _torch():
  try:
    import torch  # pylint: disable=import-outside-toplevel
  except ImportError as e:
    raise UserInputError("reading/writing .pth files needs PyTorch: "
                         "pip install 'star_jax[torch]'") from e
  return torch


# Keys under which training frameworks store the weights, in the order they are preferred:
# BasicSR / Real-ESRGAN save {'params': ...} and {'params_ema': ...} (whose inference code
# prefers the EMA weights), PyTorch Lightning and many scripts {'state_dict': ...}, others
# {'model': ...}.
STATE_DICT_WRAPPERS = ("params_ema", "params", "state_dict", "model")


def _is_state_dict(obj) -> bool:
  return isinstance(obj, Mapping) and bool(obj) and all(hasattr(v, "shape") for v in obj.values())


def _pickled_globals(raw: bytes) -> List[str]:
  """The ``module.name`` globals a torch zip checkpoint's pickle refers to, read from its
  opcodes only (nothing is imported or executed); [] for other layouts."""
  try:
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
      pickle_name = next(n for n in archive.namelist() if n.rsplit("/", 1)[-1] == "data.pkl")
      data = archive.read(pickle_name)
    return [arg.replace(" ", ".") for opcode, arg, _ in pickletools.genops(data)
            if opcode.name == "GLOBAL"]
  except (zipfile.BadZipFile, StopIteration, ValueError, KeyError):
    return []


def _refusal(path: pathlib.Path, raw: bytes, error: Exception) -> UserInputError:
  """One line for a file torch.load(weights_only=True) refused."""
  found = _pickled_globals(raw) if "Weights only load failed" in str(error) else []
  if not found:
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if "Weights only load failed" in reason:
      reason = "not a PyTorch zip checkpoint of tensors"
    return UserInputError(f"{path} is not a readable PyTorch checkpoint: {reason}")
  if any(name.startswith("torch.nn.modules.") for name in found):
    return UserInputError(  # the first global of the pickle is the class of the saved object
        f"{path} holds a pickled model ({found[0]}), not a state "
        "dict; save one with torch.save(model.state_dict(), path) (a pickled model is not "
        "loaded: unpickling it could run arbitrary code)")
  other = [n for n in found if not n.startswith(("torch.", "collections.", "__builtin__."))]
  return UserInputError(
      f"{path} holds Python objects besides tensors ({', '.join(sorted(set(other))[:3]) or found[0]}), "
      "which are not unpickled (that could run arbitrary code); save the weights alone with "
      "torch.save(model.state_dict(), path)")


def _unwrap(path: pathlib.Path, obj) -> Mapping:
  """The state dict inside ``obj`` (itself, or under one of STATE_DICT_WRAPPERS, nested at
  most twice), with a one-line notice on stderr when unwrapped; else ValueError naming what
  the file holds."""
  trail = []
  for _ in range(3):
    if _is_state_dict(obj):
      if trail:
        print(f"notice: {path}: using the weights under {'/'.join(repr(k) for k in trail)}",
              file=sys.stderr)
      return obj
    if not isinstance(obj, Mapping):
      break
    key = next((k for k in STATE_DICT_WRAPPERS if isinstance(obj.get(k), Mapping)), None)
    if key is None:
      break
    trail.append(key)
    obj = obj[key]
  where = f" under {'/'.join(repr(k) for k in trail)}" if trail else ""
  if isinstance(obj, Mapping):
    keys = sorted(map(str, obj))
    shown = ", ".join(repr(k) for k in keys[:8]) + (f", ... ({len(keys)} in all)" if len(keys) > 8 else "")
    raise UserInputError(f"{path} does not hold a state dict of tensors: its top-level keys{where} "
                         f"are [{shown}] (expected parameter names, or the weights under one of "
                         f"{', '.join(repr(k) for k in STATE_DICT_WRAPPERS)})")
  raise UserInputError(f"{path} does not hold a state dict of tensors: it holds a "
                       f"{type(obj).__name__}{where}")


def _as_numpy(torch, tensor) -> np.ndarray:
  """CPU NumPy copy; every floating dtype (bfloat16, float16, float64, ...) as float32,
  which NumPy can hold and our parameters use; integers (BatchNorm's counter) kept."""
  tensor = tensor.detach().cpu()
  if tensor.is_floating_point() and tensor.dtype != torch.float32:
    tensor = tensor.to(torch.float32)
  return tensor.numpy()


def load_state_dict(path) -> Dict[str, np.ndarray]:
  """A ``.pth`` (or ``.pth.gz``) state dict as {key: numpy array}, floats as float32.

  Safe loading only (``torch.load(weights_only=True)``). Unwraps the common training-
  framework layouts (``STATE_DICT_WRAPPERS``) with a one-line notice.

  Raises:
    UserInputError: no such file; not a torch file; a pickled model or other objects (one
      line, saying how to save a state dict); no state dict inside (names the top-level keys
      found).
  """
  torch = _torch()
  path = pathlib.Path(path)
  if not path.is_file():
    raise UserInputError(f"checkpoint {path} does not exist")
  raw = path.read_bytes()
  if raw[:2] == b"\x1f\x8b":
    raw = gzip.decompress(raw)
  try:
    obj = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
  except Exception as e:  # torch raises several unrelated types for a foreign file
    raise _refusal(path, raw, e) from e
  return {k: _as_numpy(torch, v) for k, v in _unwrap(path, obj).items()}


def load_release_state_dict(path) -> Dict[str, np.ndarray]:
  """A release ``.pth`` (or ``.pth.gz``) as {key: numpy array}, ``module.`` stripped.

  As :func:`load_state_dict` (any float dtype, wrapped layouts), and accepts state dicts
  saved with or without DataParallel's ``module.`` prefix (all keys or none).
  """
  state_dict = load_state_dict(path)
  prefixed = [k.startswith(DATA_PARALLEL_PREFIX) for k in state_dict]
  if any(prefixed) and not all(prefixed):
    odd = [k for k, p in zip(state_dict, prefixed) if not p][:5]
    raise UserInputError(f"{path}: some keys have the 'module.' prefix and some do not, e.g. {odd}")
  strip = len(DATA_PARALLEL_PREFIX) if all(prefixed) and prefixed else 0
  return {k[strip:]: v for k, v in state_dict.items()}


def save_release_state_dict(state_dict: Mapping[str, np.ndarray], path) -> None:
  """Write ``state_dict`` as the release saves it: through DataParallel (``module.`` keys)."""
  torch = _torch()
  out = collections.OrderedDict(
      (DATA_PARALLEL_PREFIX + k, torch.from_numpy(np.array(v, order="C")))
      for k, v in state_dict.items())
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  torch.save(out, path)

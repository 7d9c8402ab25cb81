"""torchvision VGG19 state dict -> Flax variables of ``star_jax.model.vgg.VGG19Features``.

Perceptual-loss training needs ImageNet VGG19 weights, which are published as torchvision
state dicts (``features.{i}.weight/bias``, plus ``classifier.*`` in a full vgg19 file; the
classifier is irrelevant to ``features[:36]`` and ignored). Conversion is strict: a missing,
unexpected or mis-shaped key is refused with every offending key listed, because a
partially converted backbone would silently change the loss.
"""

import pathlib
from typing import Any, Dict, Mapping

import numpy as np

from star_jax.convert import torch_io
from star_jax.errors import UserInputError
from star_jax.model.vgg import VGG19_BLOCKS, vgg19_conv_names


def torchvision_conv_layout():
  """Flax conv name -> (torchvision ``features`` index, in channels, out channels).

  Each conv occupies two indices (conv, ReLU) and each inter-block max-pool one.
  """
  layout = {}
  names = iter(vgg19_conv_names())
  index, in_channels = 0, 3
  for block, (n_convs, width) in enumerate(VGG19_BLOCKS, start=1):
    if block > 1:
      index += 1  # max-pool
    for _ in range(n_convs):
      layout[next(names)] = (index, in_channels, width)
      index += 2
      in_channels = width
  return layout


def _to_numpy(value) -> np.ndarray:
  """A torch tensor (CPU, any grad state) or array-like as a NumPy array."""
  if hasattr(value, "detach"):
    value = value.detach().cpu().numpy()
  return np.asarray(value)


def vgg19_variables_from_torch(state_dict: Mapping[str, Any],
                               param_dtype=np.float32) -> Dict[str, Dict]:
  """Flax ``{'params': ...}`` for ``VGG19Features`` from a torchvision VGG19 state dict.

  Conv weights (out, in, kh, kw) become kernels (kh, kw, in, out).
  """
  expected = {}
  for name, (index, cin, cout) in torchvision_conv_layout().items():
    expected[f"features.{index}.weight"] = (name, "kernel", (cout, cin, 3, 3))
    expected[f"features.{index}.bias"] = (name, "bias", (cout,))

  missing = sorted(set(expected) - set(state_dict), key=_key_order)
  unexpected = sorted(k for k in state_dict if k not in expected and not k.startswith("classifier."))
  misshaped = []
  for key, (_, _, shape) in expected.items():
    if key in state_dict and tuple(_to_numpy(state_dict[key]).shape) != shape:
      misshaped.append(f"{key}: got {tuple(_to_numpy(state_dict[key]).shape)}, expected {shape}")
  problems = []
  if missing:
    problems.append("missing keys: " + ", ".join(missing))
  if unexpected:
    problems.append("unexpected keys: " + ", ".join(unexpected))
  if misshaped:
    problems.append("mis-shaped keys: " + "; ".join(misshaped))
  if problems:
    raise UserInputError("not a torchvision VGG19 state dict -- " + " | ".join(problems))

  params: Dict[str, Dict[str, np.ndarray]] = {}
  for key, (name, leaf, _) in expected.items():
    array = _to_numpy(state_dict[key]).astype(np.float32)
    if leaf == "kernel":
      array = array.transpose(2, 3, 1, 0)
    params.setdefault(name, {})[leaf] = array.astype(param_dtype)
  return {"params": params}


def _key_order(key: str):
  """Sort ``features.{i}.*`` numerically so error messages read in layer order."""
  parts = key.split(".")
  return (int(parts[1]), parts[2]) if len(parts) == 3 and parts[1].isdigit() else (-1, key)


def load_vgg19_variables(path, param_dtype=np.float32) -> Dict[str, Dict]:
  """Read a torchvision VGG19 ``.pth`` (e.g. ``vgg19-dcbb9e9d.pth``) and convert it.

  Reading the file needs torch (the optional ``[torch]`` extra); the conversion does not.
  Read with ``star_jax.convert.torch_io.load_state_dict``: any float dtype, wrapped layouts,
  a one-line refusal of pickled models.
  """
  path = pathlib.Path(path)
  if not path.is_file():
    raise UserInputError(f"VGG19 weights {path} do not exist")
  return vgg19_variables_from_torch(torch_io.load_state_dict(path), param_dtype)

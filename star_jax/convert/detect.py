"""Which STARnet a release state dict holds: variant, scale and widths, from keys and shapes."""

from typing import Mapping

import numpy as np

from star_jax.errors import UserInputError
from star_jax.model import ModelConfig
from star_jax.model.blocks import PROJECTION_KSP

_SCALE_OF_KERNEL = {k: scale for scale, (k, _, _) in PROJECTION_KSP.items()}
_VERSION_MARKERS = ("warp1", "t_net_hr", "t_net_lr")


def _required(state_dict, key):
  if key not in state_dict:
    raise UserInputError(f"not a STARnet release checkpoint: key {key!r} is missing "
                         f"(found {len(state_dict)} keys, e.g. {sorted(state_dict)[:3]})")
  return np.shape(state_dict[key])


def detect_model_config(state_dict: Mapping[str, np.ndarray]) -> ModelConfig:
  """Model config of a release state dict without the ``module.`` prefix: the
  ``SHAPE_FIELDS`` as the weights say, every other field ``ModelConfig``'s default.

  The FR (``_REF``) models hold ``model.*`` and ``flow_net.*``; the core version follows
  from which version-specific modules exist (V1: warp1/warp2; V2: t_net_hr; V3: t_net_lr;
  V4: both); the scale from the projection kernel size; widths from conv shapes.
  Contradictory evidence raises ValueError.
  """
  keys = list(state_dict)
  has_flow_net = any(k.startswith("flow_net.") for k in keys)
  has_wrapped_core = any(k.startswith("model.") for k in keys)
  if has_flow_net != has_wrapped_core:
    raise UserInputError("ambiguous checkpoint: an FR model has both 'model.*' and 'flow_net.*' "
                         f"keys, this one has only {'flow_net' if has_flow_net else 'model'}.*")
  core = "model." if has_wrapped_core else ""
  present = {m for m in _VERSION_MARKERS if any(k.startswith(f"{core}{m}.") for k in keys)}
  if "warp1" in present:
    if present != {"warp1"}:
      raise UserInputError("ambiguous checkpoint: V1's warp1 together with "
                           f"{sorted(present - {'warp1'})}")
    version = 1
  elif present == {"t_net_hr", "t_net_lr"}:
    version = 4
  elif present == {"t_net_hr"}:
    version = 2
  elif present == {"t_net_lr"}:
    version = 3
  else:
    _required(state_dict, f"{core}RBPN.feat0.conv.weight")
    raise UserInputError("cannot tell the STARnet version: none of warp1 (V1), t_net_hr (V2/V4), "
                         "t_net_lr (V3/V4) is in the checkpoint")

  kernel = _required(state_dict, f"{core}RBPN.res_feat1.5.deconv.weight")[2]
  if kernel not in _SCALE_OF_KERNEL:
    raise UserInputError(f"projection kernel size {kernel} matches no scale "
                         f"(known: {sorted(_SCALE_OF_KERNEL)})")
  n_resblock = len({k[len(f"{core}interp_block."):].split(".")[0] for k in keys
                    if k.startswith(f"{core}interp_block.") and k.endswith(".conv1.weight")})
  return ModelConfig(
      variant=f"V{version}{'_REF' if has_flow_net else ''}",
      scale=_SCALE_OF_KERNEL[kernel],
      base_filter=int(_required(state_dict, f"{core}RBPN.feat0.conv.weight")[0]),
      feat=int(_required(state_dict, f"{core}RBPN.DBPN.feat1.conv.weight")[0]),
      n_resblock=n_resblock)

"""Release names -> model classes, and reading release checkpoints (``module.``-prefixed).

Upstream trains through ``torch.nn.DataParallel``, so every key of a released state dict
starts with ``module.``; the bare modules here expect the keys without it.
"""

from typing import Dict

import torch
from torch import nn

from .flow_refinement import STARNetFR
from .star import STARNet

# Our variant name -> (release class name, version, has flow refinement).
VARIANTS = {
    "V1": ("FBPNSR_RBPN_V1", 1, False),
    "V2": ("FBPNSR_RBPN_V2", 2, False),
    "V3": ("FBPNSR_RBPN_V3", 3, False),
    "V4": ("FBPNSR_RBPN_V4", 4, False),
    "V1_REF": ("FBPNSR_RBPN_V1_REF", 1, True),
    "V2_REF": ("FBPNSR_RBPN_V2_REF", 2, True),
    "V3_REF": ("FBPNSR_RBPN_V3_REF", 3, True),
    "V4_REF": ("FBPNSR_RBPN_V4_REF", 4, True),
}
_RELEASE_NAME_TO_VARIANT = {release: variant for variant, (release, _, _) in VARIANTS.items()}


def build_model(variant: str, base_filter=256, feat=64, num_stages=3, n_resblock=5,
                scale_factor=4) -> nn.Module:
  """A STARNet or STARNetFR for ``variant`` ('V1'..'V4_REF' or the release class name).

  The defaults are the released models' widths (256, 64, 3, 5).
  """
  variant = _RELEASE_NAME_TO_VARIANT.get(variant, variant)
  if variant not in VARIANTS:
    raise ValueError(f"variant={variant!r} is not one of {sorted(VARIANTS)} "
                     f"or {sorted(_RELEASE_NAME_TO_VARIANT)}")
  _, version, has_fr = VARIANTS[variant]
  cls = STARNetFR if has_fr else STARNet
  return cls(base_filter, feat, num_stages, n_resblock, scale_factor, version=version)


def load_release_state_dict(path) -> Dict[str, torch.Tensor]:
  """A release ``.pth`` (or a gzip of one) as CPU tensors, ``module.`` stripped: star_jax's
  reader (``star_jax.convert.torch_io.load_release_state_dict``: safe loading, floats as
  float32), so the restatement and the port read a file the same way."""
  from star_jax.convert import torch_io  # pylint: disable=import-outside-toplevel
  return {k: torch.from_numpy(v) for k, v in torch_io.load_release_state_dict(path).items()}

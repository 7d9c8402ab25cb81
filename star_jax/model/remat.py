"""Rematerialisation (gradient checkpointing) of STARnet's modules: ``model.remat``.

Modes:
  ``'none'``: autodiff keeps every residual the backward pass needs.
  ``'blocks'``: each repeated unit -- the residual blocks (``ResnetBlock``), the
    back-projection units (``UpBlock``/``DownBlock``) and the FR UNet's conv-BN-ReLU pairs --
    is a ``flax.linen.remat`` that saves only its convolutions' outputs (the tensors named
    :data:`star_jax.model.layers.CONV_OUTPUT`) and recomputes the rest (activations,
    residual adds, BatchNorm normalisation) in the backward pass. That drops the second copy
    of every feature map autodiff otherwise keeps (a conv's pre-activation output *and* the
    activated map the next conv reads) for elementwise recomputation only: no convolution
    runs twice. The name-based policy (``jax.checkpoint_policies.save_only_these_names``)
    is chosen over ``dots_saveable``, which would also keep the matmul output of every
    transposed convolution: that tensor holds ``ceil(k/s)^2`` (4 or 9) times the layer's
    output, in float32.
  ``'full'``: in addition, each whole subnet -- RBPN, the FR UNet, ``t_net_hr`` and every
    residual stack of the STAR core -- is a remat that saves nothing: its forward is
    recomputed during the backward pass (with the units inside it still as in
    ``'blocks'``), so only the subnets' inputs and outputs live through the whole step, at
    the price of about one more forward pass.

Parameter and batch-stat paths are the same in every mode (lifted transforms keep the
module names), so release checkpoints convert alike. Numbers per mode (peak memory,
FLOPs of the full-width train step) are in ``benchmarks/RESULTS.md``.
"""

import functools
from typing import Sequence, Type

import flax.linen as nn
import jax

from star_jax.model.layers import CONV_OUTPUT

REMAT_MODES = ("none", "blocks", "full")
UNIT_POLICY = jax.checkpoint_policies.save_only_these_names(CONV_OUTPUT)
SUBNET_POLICY = jax.checkpoint_policies.nothing_saveable


def check_remat(mode: str) -> str:
  """``mode`` if it is one of REMAT_MODES; ValueError naming it otherwise."""
  if mode not in REMAT_MODES:
    raise ValueError(f"model.remat must be one of {', '.join(REMAT_MODES)}; got {mode!r}")
  return mode


def unit(cls: Type[nn.Module], mode: str, static_argnums: Sequence[int] = ()):
  """``cls`` as a remat saving only conv outputs when ``mode`` is 'blocks' or 'full'.

  ``static_argnums`` index ``__call__``'s arguments with ``self`` as 0 (Python bools such
  as ``train`` must be static).
  """
  if check_remat(mode) == "none":
    return cls
  return _remat(cls, "unit", tuple(static_argnums))


def subnet(cls: Type[nn.Module], mode: str, static_argnums: Sequence[int] = ()):
  """``cls`` as a remat saving nothing when ``mode`` is 'full' (see :func:`unit`)."""
  if check_remat(mode) != "full":
    return cls
  return _remat(cls, "subnet", tuple(static_argnums))


@functools.lru_cache(maxsize=None)
def _remat(cls, level: str, static_argnums):
  """One wrapped class per (class, level, static_argnums), not one per instance."""
  policy = UNIT_POLICY if level == "unit" else SUBNET_POLICY
  return nn.remat(cls, policy=policy, static_argnums=static_argnums)

"""Rematerialisation (gradient checkpointing) of STARnet's modules: ``model.remat``.

Modes:
  ``'none'``: autodiff keeps every residual the backward pass needs.
  ``'blocks'``: each repeated unit -- the residual blocks (``ResnetBlock``), the
    back-projection units (``UpBlock``/``DownBlock``) and the FR UNet's conv-BN-ReLU pairs --
    is a ``flax.linen.remat`` that keeps only its input and recomputes its forward
    (convolutions included) in the backward pass.
  ``'full'``: in addition, each whole subnet -- RBPN, the FR UNet, ``t_net_hr`` and every
    residual stack of the STAR core -- is a remat: only the subnets' inputs live through
    the whole step, and a subnet's units are recomputed once more inside its backward.

Policy: ``jax.checkpoint_policies.nothing_saveable`` at both levels. Keeping the conv
outputs inside a unit (``save_only_these_names`` on tagged conv outputs) removes no
residual: autodiff already keeps one map per convolution (the next conv's input; the
activations need little more than their sign masks), and the full-width V4_REF fp32 train
step at LR 112x64, batch 10, compiled to the same 120.47 GiB as 'none' with it.
``dots_saveable`` would moreover keep each transposed convolution's matmul output, 4-9
times the layer's output, in float32. Measured on XLA:CPU, the committed policy does not
lower the compiled peak either (``benchmarks/results/training_cpu.md``). The TPU compiler schedules for
memory: there (``star_jax.plan``, full-width V4_REF, v5p, 1 sample per chip, bfloat16)
``'blocks'`` cuts the peak from 11.92 to 5.35 GiB per chip for 28 % more model FLOPs;
``'full'`` reaches 4.10 GiB for 67 % more; ``dots_saveable`` in the units gives 6.47 GiB
for 1 % more (and an 8 % shorter compiler estimate than ``nothing_saveable``); offloading
dot outputs to host (``offload_dot_with_no_batch_dims``) compiles to the same program as
``nothing_saveable`` (every conv output has a batch dimension). The rule "lowest peak for
at most ~30 % more FLOPs" keeps ``nothing_saveable`` (``benchmarks/results/plan.md``, session 8).

Parameter and batch-stat paths are the same in every mode (lifted transforms keep the
module names), so release checkpoints convert alike. Numbers per mode (peak memory,
FLOPs of the full-width train step) are in ``benchmarks/results/training_cpu.md`` (XLA:CPU)
and ``benchmarks/results/plan.md`` (TPU).
"""

import functools
from typing import Sequence, Type

import flax.linen as nn
import jax

REMAT_MODES = ("none", "blocks", "full")
POLICY = jax.checkpoint_policies.nothing_saveable


def check_remat(mode: str) -> str:
  """``mode`` if it is one of REMAT_MODES; ValueError naming it otherwise."""
  if mode not in REMAT_MODES:
    raise ValueError(f"model.remat must be one of {', '.join(REMAT_MODES)}; got {mode!r}")
  return mode


def unit(cls: Type[nn.Module], mode: str, static_argnums: Sequence[int] = ()):
  """``cls`` as a remat when ``mode`` is 'blocks' or 'full', else ``cls`` itself.

  ``static_argnums`` index ``__call__``'s arguments with ``self`` as 0 (Python bools such
  as ``train`` must be static).
  """
  if check_remat(mode) == "none":
    return cls
  return _remat(cls, tuple(static_argnums))


def subnet(cls: Type[nn.Module], mode: str, static_argnums: Sequence[int] = ()):
  """``cls`` as a remat when ``mode`` is 'full' (see :func:`unit`)."""
  if check_remat(mode) != "full":
    return cls
  return _remat(cls, tuple(static_argnums))


@functools.lru_cache(maxsize=None)
def _remat(cls, static_argnums):
  """One wrapped class per (class, static_argnums), not one per instance."""
  return nn.remat(cls, policy=POLICY, static_argnums=static_argnums)

"""STARnet as users load it: the core network, optionally behind the flow-refinement (FR)
wrapper of the ``_REF`` models, built from a model config."""

from typing import Any, Dict, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp

from star_jax.model.model_config import VARIANTS, ModelConfig
from star_jax.model.remat import subnet
from star_jax.model.star_core import STARCore
from star_jax.model.unet import FlowUNet

Dtype = Any


class FlowRefinedSTAR(nn.Module):
  """The FR wrapper: ``flow += flow_net(cat[flow, im_a, im_b])`` for both directions, then
  the core (attribute ``model``). Training mode also returns the refined flows, which the
  flow loss supervises.

  ``skip_refinement`` and ``flow_noise_std`` are the V1 wrapper's switches (no refinement;
  N(0, std^2) noise added to the flows before refinement during training, which needs a
  ``'noise'`` rng; std is in the network's flow units, pixels / 150, so 0.01 is 1.5 px).
  The flows stay float32 in every ``dtype`` (the UNet's output is float32); ``remat`` as
  in STARCore.
  """

  model: STARCore  # adopted as the child named ``model``, as in the release
  skip_refinement: bool = False
  flow_noise_std: float = 0.0
  dtype: Dtype = jnp.float32
  param_dtype: Dtype = jnp.float32
  remat: str = "none"

  def setup(self):
    self.flow_net = subnet(FlowUNet, self.remat, static_argnums=(2,))(
        dtype=self.dtype, param_dtype=self.param_dtype, remat=self.remat)

  def __call__(self, im1, im2, flow_f, flow_b, train: bool = False) -> Dict[str, Any]:
    if train and self.flow_noise_std > 0:
      key_f, key_b = jax.random.split(self.make_rng("noise"))
      flow_f = flow_f + self.flow_noise_std * jax.random.normal(key_f, flow_f.shape, flow_f.dtype)
      flow_b = flow_b + self.flow_noise_std * jax.random.normal(key_b, flow_b.shape, flow_b.dtype)
    if not self.skip_refinement or self.is_initializing():
      refined_f = flow_f + self.flow_net(jnp.concatenate([flow_f, im1, im2], -1), train)
      refined_b = flow_b + self.flow_net(jnp.concatenate([flow_b, im2, im1], -1), train)
      if not self.skip_refinement:
        flow_f, flow_b = refined_f.astype(flow_f.dtype), refined_b.astype(flow_b.dtype)
    outputs = self.model(im1, im2, flow_f, flow_b, train)
    if train:
      outputs = dict(outputs, flow_f=flow_f, flow_b=flow_b)
    return outputs


def sample_inputs():
  """Smallest inputs for shape inference (``init``/``eval_shape``): parameter shapes do not
  depend on the LR size, and 8x8 keeps every variant's HR sides divisible by 4."""
  im = jnp.zeros((1, 8, 8, 3), jnp.float32)
  flow = jnp.zeros((1, 8, 8, 2), jnp.float32)
  return im, im, flow, flow


def abstract_variables(cfg: Mapping[str, Any]) -> Dict[str, Any]:
  """The variable tree of a model config (as :func:`build_model` takes it) as
  ``jax.ShapeDtypeStruct`` leaves (``{'params': ..., 'batch_stats': ...}``), without
  computing any array."""
  model = build_model(cfg)
  return jax.eval_shape(lambda: model.init(jax.random.key(0), *sample_inputs()))


def parse_variant(variant: str):
  """'V4_REF' -> (4, True); 'V2' -> (2, False)."""
  if variant not in VARIANTS:
    raise ValueError(f"model variant must be one of {', '.join(VARIANTS)}; got {variant!r}")
  return int(variant[1]), variant.endswith("_REF")


def build_model(cfg: Mapping[str, Any]) -> nn.Module:
  """The Flax module for a :class:`ModelConfig` (a plain mapping of its fields, e.g. in a
  test, goes through ``ModelConfig.from_mapping``: missing fields take the defaults).
  Raises ValueError for an unknown field or a value out of range (``ModelConfig``)."""
  full = cfg if isinstance(cfg, ModelConfig) else ModelConfig.from_mapping(cfg)
  version, refine = parse_variant(full.variant)
  dtype, param_dtype = jnp.dtype(full.dtype), jnp.dtype(full.param_dtype)
  remat = full.remat
  core = STARCore(version=version, scale=int(full.scale), base_filter=int(full.base_filter),
                  feat=int(full.feat), n_resblock=int(full.n_resblock),
                  residual_bicubic=bool(full.residual_bicubic), dtype=dtype,
                  param_dtype=param_dtype, remat=remat)
  if not refine:
    return core
  return FlowRefinedSTAR(core, skip_refinement=bool(full.skip_refinement),
                         flow_noise_std=float(full.flow_noise_std), dtype=dtype,
                         param_dtype=param_dtype, remat=remat)

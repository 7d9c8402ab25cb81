"""The STAR core network, versions V1-V4 as flags of one module (release ``FBPNSR_RBPN_V*``).

Version differences, all from the release:
  V1: ``warp1``/``warp2`` take H1/H2 to LR; ``motion_down`` has 3 residual blocks.
  V2, V4: HR refinement of Ht by ``t_net_hr`` on [H1, H2, upsample(M)].
  V3, V4: LR refinement of L by ``t_net_lr`` on [L1, L2, M].
  V2-V4: ``motion_down`` (2 residual blocks) takes H1/H2 to LR.

Not in the release (opt-in, default off): ``residual_bicubic`` adds an interpolation of the
inputs to every output (see ``STARCore``), so the network predicts only the correction.
"""

import functools
from typing import Any, Dict

import flax.linen as nn
import jax.numpy as jnp

from star_jax.pixels import bicubic_upscale
from star_jax.model.blocks import ConvBlock, DeconvBlock, ResidualStack, projection_ksp
from star_jax.model.layers import leaky_relu, upsample_bilinear_align_corners
from star_jax.model.pyramid_module import PyramidModule
from star_jax.model.rbpn import RBPN
from star_jax.model.remat import subnet

Dtype = Any
OUTPUT_NAMES = ("ht", "h1", "h2", "l")


class STARCore(nn.Module):
  """Space-time super-resolution of the frame pair (im1, im2) and their in-between frame.

  ``__call__(im1, im2, flow_f, flow_b, train)``:
    im1, im2: (B, H, W, 3) float32 LR frames at times t and t+1, RGB, ImageNet-normalised
      (``star_jax.pixels.normalize``: (x - mean) / std of RGB x in [0, 1], so about
      [-2.12, 2.64]).
    flow_f, flow_b: (B, H, W, 2) float32 optical flow im1 -> im2 and im2 -> im1, channels
      (u, v) = (x, y) displacement, in the release's network units ``-clip(flow_px, -150,
      150) / 150`` (note the sign; ``star_jax.flow.to_network_input`` makes them), so
      values lie in [-1, 1].
    train: return both stages (the core has no BatchNorm or dropout; the FR wrapper's
      UNet has BatchNorm).
  Returns a dict of float32 NHWC images in the inputs' normalisation: ``ht`` (HR t+1/2),
  ``h1``, ``h2`` (HR t, t+1), each (B, scale*H, scale*W, 3), and ``l`` (LR t+1/2,
  (B, H, W, 3)). With ``train=True`` each value is the pair ``(stage1, stage2)`` the
  release supervises; otherwise only the final stage.

  Precision: convolutions and activations run in ``dtype`` (float32 or bfloat16; the
  parameters stay ``param_dtype``); every output image is float32, produced by its last
  convolution without an intermediate bfloat16 rounding (see ``star_jax.model.layers``
  for what else is kept in float32). Measured bound (``benchmarks/bf16_parity.py``,
  every release parity fixture): bfloat16 eval outputs within 0.065 max abs (0.014 RMS,
  normalised units) of float32. ``remat`` ('none', 'blocks', 'full'): what the
  backward pass recomputes instead of storing (``star_jax.model.remat``); it changes no
  parameter path and no value beyond float rounding.

  ``residual_bicubic`` (not in the release; ``convert to-torch`` refuses such a model):
  every output, both stages, is its reconstruction plus an interpolation of the inputs --
  ``h1 += bicubic(im1)``, ``h2 += bicubic(im2)``, ``ht += (bicubic(im1) + bicubic(im2)) / 2``,
  ``l += (im1 + im2) / 2`` -- i.e. the network learns the residual over the baselines the
  demo reports (``bicubic_upscale``). Same parameters as without it.
  """

  version: int = 4
  scale: int = 4
  base_filter: int = 256
  feat: int = 64
  n_resblock: int = 5
  residual_bicubic: bool = False
  dtype: Dtype = jnp.float32
  param_dtype: Dtype = jnp.float32
  remat: str = "none"

  def setup(self):
    if self.version not in (1, 2, 3, 4):
      raise ValueError(f"STAR version must be 1..4, got {self.version}")
    kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
    b, f = self.base_filter, self.feat
    k, s, p = projection_ksp(self.scale)
    lrelu_stack = functools.partial(subnet(ResidualStack, self.remat), activation="lrelu",
                                    remat=self.remat, **kw)
    conv = functools.partial(ConvBlock, activation="lrelu", **kw)
    to_lr = functools.partial(conv, features=2 * f, kernel_size=k, stride=s, padding=p)
    to_hr = functools.partial(DeconvBlock, features=f, kernel_size=k, stride=s, padding=p,
                              activation="lrelu", **kw)

    self.RBPN = subnet(RBPN, self.remat)(b, f, self.scale, remat=self.remat, **kw)
    self.motion_feat = conv(features=b, kernel_size=3, stride=1, padding=1)
    self.motion = lrelu_stack(2, tail=functools.partial(
        conv, features=f, kernel_size=3, stride=1, padding=1))
    self.interp_block = lrelu_stack(self.n_resblock, tail=to_hr)
    self.motion_up_f = lrelu_stack(self.n_resblock, tail=to_hr)
    self.motion_up_b = lrelu_stack(self.n_resblock, tail=to_hr)
    self.motion_down = lrelu_stack(3 if self.version == 1 else 2, tail=to_lr)
    self.reconstruction_l = ConvBlock(features=3, kernel_size=3, stride=1, padding=1,
                                      activation=None, output_dtype=jnp.float32, **kw)
    self.reconstruction_h = ConvBlock(features=3, kernel_size=3, stride=1, padding=1,
                                      activation=None, output_dtype=jnp.float32, **kw)
    if self.version == 1:
      self.warp1 = lrelu_stack(2, tail=to_lr)
      self.warp2 = lrelu_stack(2, tail=to_lr)
    if self.version in (2, 4):
      self.t_net_hr = subnet(_TNetHR, self.remat)(f, remat=self.remat, **kw)
    if self.version in (3, 4):
      self.t_net_lr = lrelu_stack(2, tail=functools.partial(
          conv, features=2 * f, kernel_size=3, stride=1, padding=1))

  def __call__(self, im1, im2, flow_f, flow_b, train: bool = False) -> Dict[str, Any]:
    cat = lambda *xs: jnp.concatenate(xs, axis=-1)
    back_project = lambda x, estimate: x + leaky_relu(x - estimate)  # release: relu_bp

    aux_h1, h1 = self.RBPN(im1, im2, flow_f)
    aux_h2, h2 = self.RBPN(im2, im1, flow_b)
    if self.version == 1:
      l1, l2 = self.warp1(h1), self.warp2(h2)
    else:
      l1, l2 = self.motion_down(h1), self.motion_down(h2)
    m = self.motion(self.motion_feat(cat(flow_f, flow_b)))
    m_half = self.motion(self.motion_feat(cat(flow_f / 2, flow_b / 2)))

    ht = self.interp_block(cat(l1, l2, m))
    if self.version in (2, 4):
      ht = back_project(ht, self.t_net_hr(cat(h1, h2, upsample_bilinear_align_corners(
          m, self.scale))))
    lt = self.motion_down(ht)
    if self.version in (3, 4):
      lt = back_project(lt, self.t_net_lr(cat(l1, l2, m)))
    stage1 = (self.reconstruction_h(ht), aux_h1, aux_h2, self.reconstruction_l(lt))

    # Mutual refinement; each step sees the values updated by the steps before it.
    h_b = self.motion_up_b(cat(l1, lt, m_half))
    h1 = back_project(h1, h_b)
    l1 = back_project(l1, self.motion_down(h_b))
    h_f = self.motion_up_f(cat(lt, l2, m_half))
    h2 = back_project(h2, h_f)
    l2 = back_project(l2, self.motion_down(h_f))
    h_tf = self.motion_up_f(cat(l1, lt, m_half))
    ht = back_project(ht, h_tf)
    lt = back_project(lt, self.motion_down(h_tf))
    h_tb = self.motion_up_b(cat(lt, l2, m_half))
    ht = back_project(ht, h_tb)
    lt = back_project(lt, self.motion_down(h_tb))
    stage2 = (self.reconstruction_h(ht), self.reconstruction_h(h1), self.reconstruction_h(h2),
              self.reconstruction_l(lt))

    if self.residual_bicubic:
      up1, up2 = bicubic_upscale(im1, self.scale), bicubic_upscale(im2, self.scale)
      base = ((up1 + up2) / 2, up1, up2, (im1 + im2) / 2)
      stage1 = tuple(out + b.astype(out.dtype) for out, b in zip(stage1, base))
      stage2 = tuple(out + b.astype(out.dtype) for out, b in zip(stage2, base))
    if train:
      return {name: (s1, s2) for name, s1, s2 in zip(OUTPUT_NAMES, stage1, stage2)}
    return dict(zip(OUTPUT_NAMES, stage2))


class _TNetHR(nn.Module):
  """``t_net_hr`` = Sequential(1x1 ConvBlock 3F->F, PyramidModule(F), 3x3 ConvBlock F->F),
  children named 0, 1, 2 as in the release."""

  feat: int
  dtype: Dtype = jnp.float32
  param_dtype: Dtype = jnp.float32
  remat: str = "none"

  @nn.compact
  def __call__(self, x):
    kw = dict(activation="lrelu", dtype=self.dtype, param_dtype=self.param_dtype)
    x = ConvBlock(features=self.feat, kernel_size=1, stride=1, padding=0, name="0", **kw)(x)
    x = PyramidModule(self.feat, name="1", remat=self.remat, **kw)(x)
    return ConvBlock(features=self.feat, kernel_size=3, stride=1, padding=1, name="2", **kw)(x)

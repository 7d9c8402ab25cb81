"""The STAR core network (versions V1..V4): joint space-time super-resolution of a frame pair.

One class with version switches instead of four classes, because the versions share all
but three modules: V1 downsamples the HR features with its own ``warp1``/``warp2`` stacks,
V2/V4 add the HR temporal branch ``t_net_hr``, V3/V4 the LR temporal branch ``t_net_lr``.
"""

from torch import nn

from .blocks import (ConvBlock, DeconvBlock, PyramidModule, ResnetBlock, concat,
                     projection_geometry, residual_stack)
from .rbpn import RBPN

VERSIONS = (1, 2, 3, 4)


class STARNet(nn.Module):
  """STARnet core; ``forward`` returns (ht, h1, h2, l).

  In training mode (``train=True``) each of the four is the list [stage1, stage2], the
  release's deep supervision; in eval mode only the stage-2 tensors are returned.
  """

  def __init__(self, base_filter=256, feat=64, num_stages=3, n_resblock=5, scale_factor=4,
               version=4):
    super().__init__()
    if version not in VERSIONS:
      raise ValueError(f"version={version!r} is not one of {VERSIONS}")
    if num_stages != 3:
      raise ValueError(f"num_stages={num_stages!r}: the release's DBPN-S inside RBPN has "
                       "exactly 3 projection stages")
    self.version = version
    k, s, p = projection_geometry(scale_factor)
    b, f = base_filter, feat
    lrelu = "lrelu"

    self.RBPN = RBPN(b, f, scale_factor)
    self.motion_feat = ConvBlock(4, b, 3, 1, 1, lrelu)
    self.motion = residual_stack(b, 2, lrelu, ConvBlock(b, f, 3, 1, 1, lrelu))
    self.interp_block = residual_stack(5 * f, n_resblock, lrelu,
                                       DeconvBlock(5 * f, f, k, s, p, lrelu))
    self.motion_up_f = residual_stack(5 * f, n_resblock, lrelu,
                                      DeconvBlock(5 * f, f, k, s, p, lrelu))
    self.motion_up_b = residual_stack(5 * f, n_resblock, lrelu,
                                      DeconvBlock(5 * f, f, k, s, p, lrelu))
    self.motion_down = residual_stack(f, 3 if version == 1 else 2, lrelu,
                                      ConvBlock(f, 2 * f, k, s, p, lrelu))
    self.relu_bp = nn.LeakyReLU(0.1)
    self.reconstruction_l = ConvBlock(2 * f, 3, 3, 1, 1, None)
    self.reconstruction_h = ConvBlock(f, 3, 3, 1, 1, None)

    if version == 1:
      self.warp1 = residual_stack(f, 2, lrelu, ConvBlock(f, 2 * f, k, s, p, lrelu))
      self.warp2 = residual_stack(f, 2, lrelu, ConvBlock(f, 2 * f, k, s, p, lrelu))
    if version in (2, 4):
      self.t_net_hr = nn.Sequential(
          ConvBlock(3 * f, f, 1, 1, 0, lrelu),
          PyramidModule(f, lrelu),
          ConvBlock(f, f, 3, 1, 1, lrelu))
      self.upsample_layer = nn.Upsample(scale_factor=scale_factor, mode="bilinear",
                                        align_corners=True)
    if version in (3, 4):
      self.t_net_lr = nn.Sequential(
          ResnetBlock(5 * f, lrelu), ResnetBlock(5 * f, lrelu),
          ConvBlock(5 * f, 2 * f, 3, 1, 1, lrelu))

  def _back_project(self, current, estimate):
    """``current + lrelu(current - estimate)``: the release's residual correction step."""
    return current + self.relu_bp(current - estimate)

  def forward(self, im1, im2, flow_f, flow_b, train=False):
    aux_h1, h1 = self.RBPN(im1, im2, flow_f)
    aux_h2, h2 = self.RBPN(im2, im1, flow_b)

    if self.version == 1:
      l1, l2 = self.warp1(h1), self.warp2(h2)
    else:
      l1, l2 = self.motion_down(h1), self.motion_down(h2)

    motion = self.motion(self.motion_feat(concat(flow_f, flow_b)))
    motion_half = self.motion(self.motion_feat(concat(flow_f / 2, flow_b / 2)))

    ht = self.interp_block(concat(l1, l2, motion))
    if self.version in (2, 4):
      ht = self._back_project(ht, self.t_net_hr(concat(h1, h2, self.upsample_layer(motion))))
    lt = self.motion_down(ht)
    if self.version in (3, 4):
      lt = self._back_project(lt, self.t_net_lr(concat(l1, l2, motion)))
    stage1 = (self.reconstruction_h(ht), aux_h1, aux_h2, self.reconstruction_l(lt))

    h_b = self.motion_up_b(concat(l1, lt, motion_half))
    h1 = self._back_project(h1, h_b)
    l1 = self._back_project(l1, self.motion_down(h_b))

    h_f = self.motion_up_f(concat(lt, l2, motion_half))
    h2 = self._back_project(h2, h_f)
    l2 = self._back_project(l2, self.motion_down(h_f))

    h_tf = self.motion_up_f(concat(l1, lt, motion_half))
    ht = self._back_project(ht, h_tf)
    lt = self._back_project(lt, self.motion_down(h_tf))

    h_tb = self.motion_up_b(concat(lt, l2, motion_half))
    ht = self._back_project(ht, h_tb)
    lt = self._back_project(lt, self.motion_down(h_tb))

    stage2 = (self.reconstruction_h(ht), self.reconstruction_h(h1), self.reconstruction_h(h2),
              self.reconstruction_l(lt))
    if train:
      return tuple([first, final] for first, final in zip(stage1, stage2))
    return stage2

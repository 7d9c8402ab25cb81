"""RBPN with its DBPN-S super-resolution branch, the single-frame-pair SR module of STARnet."""

from torch import nn

from .blocks import (ConvBlock, DeconvBlock, DownBlock, UpBlock, concat, projection_geometry,
                     residual_stack)

# The release hard-codes five residual blocks inside RBPN, whatever n_resblock STAR uses.
RBPN_RESBLOCKS = 5


class DBPNS(nn.Module):
  """DBPN-S: three up- and two down-projections, outputs of the up-projections fused by 1x1."""

  def __init__(self, base_filter, feat, scale_factor):
    super().__init__()
    k, s, p = projection_geometry(scale_factor)
    self.feat1 = ConvBlock(base_filter, feat, 1, 1, 0, "prelu")
    self.up1 = UpBlock(feat, k, s, p)
    self.down1 = DownBlock(feat, k, s, p)
    self.up2 = UpBlock(feat, k, s, p)
    self.down2 = DownBlock(feat, k, s, p)
    self.up3 = UpBlock(feat, k, s, p)
    self.output = ConvBlock(3 * feat, feat, 1, 1, 0, None)

  def forward(self, x):
    x = self.feat1(x)
    h1 = self.up1(x)
    h2 = self.up2(self.down1(h1))
    h3 = self.up3(self.down2(h2))
    return self.output(concat(h3, h2, h1))


class RBPN(nn.Module):
  """RBPN for one neighbour frame: returns (HR image, HR features with ``feat`` channels).

  ``res_feat3`` feeds the next neighbour in the multi-frame RBPN; with one neighbour it is
  never called, but released checkpoints contain its weights, so it must exist here.
  """

  def __init__(self, base_filter, feat, scale_factor):
    super().__init__()
    k, s, p = projection_geometry(scale_factor)
    b, f = base_filter, feat
    self.feat0 = ConvBlock(3, b, 3, 1, 1, "prelu")
    self.feat1 = ConvBlock(8, b, 3, 1, 1, "prelu")
    self.DBPN = DBPNS(b, f, scale_factor)
    self.res_feat1 = residual_stack(b, RBPN_RESBLOCKS, "prelu",
                                    DeconvBlock(b, f, k, s, p, "prelu"))
    self.res_feat2 = residual_stack(f, RBPN_RESBLOCKS, "prelu",
                                    ConvBlock(f, f, 3, 1, 1, "prelu"))
    self.res_feat3 = residual_stack(f, RBPN_RESBLOCKS, "prelu",
                                    ConvBlock(f, b, k, s, p, "prelu"))
    self.output = ConvBlock(f, 3, 3, 1, 1, None)

  def forward(self, x, neighbour, flow):
    feat_input = self.feat0(x)
    feat_frame = self.feat1(concat(x, neighbour, flow))
    h0 = self.DBPN(feat_input)
    h1 = self.res_feat1(feat_frame)
    h = h0 + self.res_feat2(h0 - h1)
    return self.output(h), h

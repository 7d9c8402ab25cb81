"""Flow refinement (FR): a full-size UNet corrects both input flows before STAR sees them.

The UNet's widths are fixed (64..1024) whatever STAR's widths are, as the release
hard-codes them; that is why even a narrow FR model has ~54M parameters.
"""

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import concat
from .star import STARNet


class DoubleConv(nn.Module):
  """(conv3x3 -> BatchNorm -> ReLU) x 2, kept in a Sequential named ``conv`` (release keys
  ``...conv.0`` / ``.1`` / ``.3`` / ``.4``)."""

  def __init__(self, in_channels, out_channels):
    super().__init__()
    self.conv = nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True))

  def forward(self, x):
    return self.conv(x)


class InConv(nn.Module):
  """First UNet stage: a DoubleConv at full resolution."""

  def __init__(self, in_channels, out_channels):
    super().__init__()
    self.conv = DoubleConv(in_channels, out_channels)

  def forward(self, x):
    return self.conv(x)


class Down(nn.Module):
  """2x2 max-pool (flooring odd sides) then DoubleConv."""

  def __init__(self, in_channels, out_channels):
    super().__init__()
    self.mpconv = nn.Sequential(nn.MaxPool2d(2), DoubleConv(in_channels, out_channels))

  def forward(self, x):
    return self.mpconv(x)


class Up(nn.Module):
  """Bilinear x2 (align_corners=True), zero-pad to the skip's size, cat[skip, up], DoubleConv.

  The pad restores the row/column that max-pooling floored away on odd sides.
  """

  def __init__(self, in_channels, out_channels):
    super().__init__()
    self.conv = DoubleConv(in_channels, out_channels)

  def forward(self, deep, skip):
    up = F.interpolate(deep, scale_factor=2, mode="bilinear", align_corners=True)
    diff_y = skip.shape[2] - up.shape[2]
    diff_x = skip.shape[3] - up.shape[3]
    up = F.pad(up, (diff_x // 2, diff_x - diff_x // 2, diff_y // 2, diff_y - diff_y // 2))
    return self.conv(concat(skip, up))


class OutConv(nn.Module):
  """1x1 projection to the output channels."""

  def __init__(self, in_channels, out_channels):
    super().__init__()
    self.conv = nn.Conv2d(in_channels, out_channels, 1)

  def forward(self, x):
    return self.conv(x)


class UNet(nn.Module):
  """Five-level UNet ending in a sigmoid (so each refinement adds a value in (0, 1))."""

  def __init__(self, in_channels=8, out_channels=2):
    super().__init__()
    self.inc = InConv(in_channels, 64)
    self.down1 = Down(64, 128)
    self.down2 = Down(128, 256)
    self.down3 = Down(256, 512)
    self.down4 = Down(512, 1024)
    self.down5 = Down(1024, 1024)
    self.up1 = Up(2048, 512)
    self.up2 = Up(1024, 256)
    self.up3 = Up(512, 128)
    self.up4 = Up(256, 64)
    self.up5 = Up(128, 64)
    self.outc = OutConv(64, out_channels)

  def forward(self, x):
    x1 = self.inc(x)
    x2 = self.down1(x1)
    x3 = self.down2(x2)
    x4 = self.down3(x3)
    x5 = self.down4(x4)
    x6 = self.down5(x5)
    x = self.up1(x6, x5)
    x = self.up2(x, x4)
    x = self.up3(x, x3)
    x = self.up4(x, x2)
    x = self.up5(x, x1)
    return torch.sigmoid(self.outc(x))


class STARNetFR(nn.Module):
  """STAR with flow refinement (the release's ``*_REF`` models).

  ``refine_flow`` and ``flow_noise_std`` restate the release V1 FR wrapper's switches
  (skip the UNet; add N(0, std^2) noise to the flows before refinement, training only);
  the defaults (refine, no noise) are how every released FR model computes.
  In training mode the refined flows are returned after (ht, h1, h2, l), since the FR
  objective supervises them.
  """

  def __init__(self, base_filter=256, feat=64, num_stages=3, n_resblock=5, scale_factor=4,
               version=4, refine_flow=True, flow_noise_std=0.0):
    super().__init__()
    self.model = STARNet(base_filter, feat, num_stages, n_resblock, scale_factor, version)
    self.flow_net = UNet(8, 2)
    self.refine_flow = refine_flow
    self.flow_noise_std = flow_noise_std

  def forward(self, im1, im2, flow_f, flow_b, train=False):
    if train and self.flow_noise_std > 0:
      flow_f = flow_f + self.flow_noise_std * torch.randn_like(flow_f)
      flow_b = flow_b + self.flow_noise_std * torch.randn_like(flow_b)
    if self.refine_flow:
      flow_f = flow_f + self.flow_net(concat(flow_f, im1, im2))
      flow_b = flow_b + self.flow_net(concat(flow_b, im2, im1))
    outputs = self.model(im1, im2, flow_f, flow_b, train)
    if train:
      return (*outputs, flow_f, flow_b)
    return outputs

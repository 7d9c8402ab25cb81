"""Building blocks of the STARnet release, restated in PyTorch from the project's spec.

Attribute names (``conv``, ``deconv``, ``act``, ``conv1``, ``up_conv1`` ...) are the release's,
because they become the state-dict keys that released checkpoints use; a different name
would make ``load_state_dict(strict=True)`` refuse the release's weights.
"""

from typing import Optional

import torch
from torch import nn

# scale factor -> (kernel, stride, padding) of every up/down projection in the release.
PROJECTION_GEOMETRY = {2: (6, 2, 2), 4: (8, 4, 2), 8: (12, 8, 2)}


def projection_geometry(scale_factor: int):
  """(kernel, stride, padding) for ``scale_factor``; other factors have no released geometry."""
  if scale_factor not in PROJECTION_GEOMETRY:
    raise ValueError(
        f"scale_factor={scale_factor!r} is not supported; choose one of "
        f"{sorted(PROJECTION_GEOMETRY)}")
  return PROJECTION_GEOMETRY[scale_factor]


def make_activation(activation: Optional[str]) -> Optional[nn.Module]:
  """'prelu' (one learnable slope, init 0.25), 'lrelu' (slope 0.1) or None."""
  if activation is None:
    return None
  if activation == "prelu":
    return nn.PReLU()
  if activation == "lrelu":
    return nn.LeakyReLU(0.1)
  raise ValueError(f"activation={activation!r} is not one of 'prelu', 'lrelu', None")


class ConvBlock(nn.Module):
  """Conv2d with bias, then the activation (if any)."""

  def __init__(self, in_channels, out_channels, kernel_size, stride, padding,
               activation: Optional[str]):
    super().__init__()
    self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=True)
    act = make_activation(activation)
    if act is not None:
      self.act = act

  def forward(self, x):
    x = self.conv(x)
    return self.act(x) if hasattr(self, "act") else x


class DeconvBlock(nn.Module):
  """ConvTranspose2d with bias, then the activation (if any)."""

  def __init__(self, in_channels, out_channels, kernel_size, stride, padding,
               activation: Optional[str]):
    super().__init__()
    self.deconv = nn.ConvTranspose2d(in_channels, out_channels, kernel_size, stride, padding,
                                     bias=True)
    act = make_activation(activation)
    if act is not None:
      self.act = act

  def forward(self, x):
    x = self.deconv(x)
    return self.act(x) if hasattr(self, "act") else x


class ResnetBlock(nn.Module):
  """``act(conv2(act(conv1(x))) + x)``: the activation follows the residual add, and one
  ``act`` module (hence one PReLU slope) serves both applications, as in the release."""

  def __init__(self, channels, activation: str):
    super().__init__()
    self.conv1 = nn.Conv2d(channels, channels, 3, 1, 1, bias=True)
    self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=True)
    self.act = make_activation(activation)

  def forward(self, x):
    return self.act(self.conv2(self.act(self.conv1(x))) + x)


class UpBlock(nn.Module):
  """DBPN up-projection: upsample, project back, upsample the LR residual, add."""

  def __init__(self, channels, kernel_size, stride, padding):
    super().__init__()
    self.up_conv1 = DeconvBlock(channels, channels, kernel_size, stride, padding, "prelu")
    self.up_conv2 = ConvBlock(channels, channels, kernel_size, stride, padding, "prelu")
    self.up_conv3 = DeconvBlock(channels, channels, kernel_size, stride, padding, "prelu")

  def forward(self, x):
    h0 = self.up_conv1(x)
    l0 = self.up_conv2(h0)
    h1 = self.up_conv3(l0 - x)
    return h1 + h0


class DownBlock(nn.Module):
  """DBPN down-projection: downsample, project up, downsample the HR residual, add."""

  def __init__(self, channels, kernel_size, stride, padding):
    super().__init__()
    self.down_conv1 = ConvBlock(channels, channels, kernel_size, stride, padding, "prelu")
    self.down_conv2 = DeconvBlock(channels, channels, kernel_size, stride, padding, "prelu")
    self.down_conv3 = ConvBlock(channels, channels, kernel_size, stride, padding, "prelu")

  def forward(self, x):
    l0 = self.down_conv1(x)
    h0 = self.down_conv2(l0)
    l1 = self.down_conv3(h0 - x)
    return l1 + l0


class PyramidModule(nn.Module):
  """Three-level residual pyramid (C, 2C, 4C) of the V2/V4 ``t_net_hr``.

  ``down1``/``down2``/``up1``/``up2`` are single modules reused at every level, so the
  state dict holds them once.
  """

  def __init__(self, channels, activation: str):
    super().__init__()
    c = channels
    for i in range(1, 6):
      setattr(self, f"l1_{i}", ResnetBlock(c, activation))
    for i in range(1, 5):
      setattr(self, f"l2_{i}", ResnetBlock(2 * c, activation))
    for i in range(1, 4):
      setattr(self, f"l3_{i}", ResnetBlock(4 * c, activation))
    self.down1 = ConvBlock(c, 2 * c, 4, 2, 1, activation)
    self.down2 = ConvBlock(2 * c, 4 * c, 4, 2, 1, activation)
    self.up1 = DeconvBlock(2 * c, c, 4, 2, 1, activation)
    self.up2 = DeconvBlock(4 * c, 2 * c, 4, 2, 1, activation)
    self.final = ConvBlock(c, c, 3, 1, 1, activation)

  def forward(self, x):
    o11 = self.l1_1(x)
    o21 = self.l2_1(self.down1(o11))
    o31 = self.l3_1(self.down2(o21))

    o12 = self.l1_2(o11 + self.up1(o21))
    o22 = self.l2_2(o21 + self.down1(o12) + self.up2(o31))
    o32 = self.l3_2(o31 + self.down2(o22))

    o13 = self.l1_3(o12 + self.up1(o22))
    o23 = self.l2_3(o22 + self.down1(o13) + self.up2(o32))
    o33 = self.l3_3(o32 + self.down2(o23))

    o14 = self.l1_4(o13 + self.up1(o23))
    o24 = self.l2_4(o23 + self.down1(o14) + self.up2(o33))

    o15 = self.l1_5(o14 + self.up1(o24))
    return self.final(o15)


def residual_stack(channels: int, n_blocks: int, activation: str, tail: nn.Module) -> nn.Sequential:
  """``n_blocks`` ResnetBlocks followed by ``tail`` (indices 0..n_blocks in the state dict)."""
  return nn.Sequential(*[ResnetBlock(channels, activation) for _ in range(n_blocks)], tail)


def concat(*tensors: torch.Tensor) -> torch.Tensor:
  """Channel concatenation (NCHW) in the given order."""
  return torch.cat(tensors, dim=1)

"""VGG19 ``features[:36]`` (through relu5_4) with torchvision's layer indices.

torchvision is not a dependency; this restates its layer list so that a torchvision VGG19
state dict (``features.{i}.weight``) loads here, and so the JAX port can be checked
against PyTorch's convolutions.
"""

from torch import nn

# Output channels per conv, 'M' = 2x2 max-pool: torchvision's configuration "E" (VGG19).
VGG19_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
                512, 512, 512, 512, "M", 512, 512, 512, 512, "M")
# features[:36] stops after relu5_4; index 36 would be the final max-pool.
RELU5_4_END = 36


class VGG19Features(nn.Module):
  """``features`` = layers 0..35 of torchvision's VGG19 (conv3x3 p1 + ReLU, max-pools)."""

  def __init__(self):
    super().__init__()
    layers = []
    in_channels = 3
    for entry in VGG19_LAYOUT:
      if entry == "M":
        layers.append(nn.MaxPool2d(2, 2))
      else:
        layers += [nn.Conv2d(in_channels, entry, 3, padding=1), nn.ReLU(inplace=True)]
        in_channels = entry
    self.features = nn.Sequential(*layers[:RELU5_4_END])

  def forward(self, x):
    return self.features(x)

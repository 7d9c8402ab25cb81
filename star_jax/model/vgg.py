"""VGG19 ``features[:36]`` (conv1_1 .. relu5_4), the backbone of STARnet's perceptual loss.

Flax linen, NHWC. The layer list is torchvision's VGG19 (configuration "E"): 3x3 convs
with padding 1, each followed by ReLU, a 2x2 max-pool between blocks. The final max-pool
(torchvision index 36) is excluded, as in the release's loss, so the output is relu5_4 at
1/16 of the input resolution (odd sides are floored by each pool, as torch does).
Convs are ``star_jax.model.layers.conv2d`` so converted torchvision weights compute the
same function; parameters are named ``conv{block}_{index}`` after the usual VGG names.
"""

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from star_jax.model.layers import conv2d

Dtype = Any

# (number of convs, output channels) of each of the five blocks.
VGG19_BLOCKS = ((2, 64), (2, 128), (4, 256), (4, 512), (4, 512))


def vgg19_conv_names():
  """Flax names of the 16 convs in forward order: conv1_1, conv1_2, conv2_1, ..., conv5_4."""
  return [f"conv{block}_{i}" for block, (n_convs, _) in enumerate(VGG19_BLOCKS, start=1)
          for i in range(1, n_convs + 1)]


class VGG19Features(nn.Module):
  """VGG19 features through relu5_4: (B, H, W, 3) -> (B, H//16, W//16, 512).

  Expects images in the normalisation the weights were trained with (torchvision's
  ImageNet weights: mean .485,.456,.406, std .229,.224,.225 -- the same normalisation
  STARnet's inputs and outputs already use).
  """

  dtype: Dtype = jnp.float32
  param_dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    x = x.astype(self.dtype)
    for block, (n_convs, width) in enumerate(VGG19_BLOCKS, start=1):
      if block > 1:
        x = nn.max_pool(x, (2, 2), strides=(2, 2), padding="VALID")
      for i in range(1, n_convs + 1):
        x = conv2d(width, 3, 1, 1, dtype=self.dtype, param_dtype=self.param_dtype,
                   name=f"conv{block}_{i}")(x)
        x = nn.relu(x)
    return x

"""Feature channels that enter the data term (spec §2).

The RGB values never enter the data term directly: each pyramid level is turned into
luminance, its x/y derivatives and two chromatic differences (G-R, G-B), all with equal weight.
Frame 2's features are built before warping, so its gradient channels get warped, not recomputed.
"""

import jax.numpy as jnp

from star_jax.flow import filters

RGB_LUMINANCE = (0.299, 0.587, 0.114)
# colType=1 (BGR) with 3 channels: the reference applies the swapped weights to level 0 only.
BGR_LUMINANCE = (0.114, 0.587, 0.299)


def image_features(image: jnp.ndarray, luminance_weights=RGB_LUMINANCE) -> jnp.ndarray:
  """(H, W, C) level image -> (H, W, F) features.

  One channel gives [I, I_x, I_y]; three give [Y, Y_x, Y_y, G-R, G-B]; any other channel count
  is used unchanged, as in the reference.
  """
  num_channels = image.shape[-1]
  if num_channels not in (1, 3):
    return image
  if num_channels == 1:
    gray = image
  else:
    w_r, w_g, w_b = (jnp.asarray(w, image.dtype) for w in luminance_weights)
    gray = (image[..., 0:1] * w_r + image[..., 1:2] * w_g) + image[..., 2:3] * w_b
  channels = [gray, filters.derivative_x(gray), filters.derivative_y(gray)]
  if num_channels == 3:
    green = image[..., 1:2]
    channels += [green - image[..., 0:1], green - image[..., 2:3]]
  return jnp.concatenate(channels, axis=-1)

"""STARnet in PyTorch, restated by this project from ``shared/spec/starnet-architecture.md``.

A reference for cross-checks and benchmarks of the JAX port, with the release's attribute
names so that released state dicts load with ``strict=True``. Not a runtime dependency of
``star_jax`` (torch is the optional ``[torch]`` extra). See README.md here.
"""

from .blocks import (ConvBlock, DeconvBlock, DownBlock, PyramidModule, ResnetBlock, UpBlock,
                     projection_geometry)
from .flow_refinement import UNet, STARNetFR
from .rbpn import DBPNS, RBPN
from .release import VARIANTS, build_model, load_release_state_dict
from .star import STARNet
from .vgg import VGG19Features

__all__ = [
    "ConvBlock", "DeconvBlock", "DownBlock", "PyramidModule", "ResnetBlock", "UpBlock",
    "projection_geometry", "UNet", "STARNetFR", "DBPNS", "RBPN", "VARIANTS", "build_model",
    "load_release_state_dict", "STARNet", "VGG19Features",
]

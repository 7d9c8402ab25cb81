"""``python -m star_jax.infer``: the command is ``star_jax.cli.infer``."""

import sys

from star_jax.cli import infer

if __name__ == "__main__":
  sys.exit(infer.main())

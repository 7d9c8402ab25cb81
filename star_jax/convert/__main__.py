"""``python -m star_jax.convert``: the command is ``star_jax.cli.convert``."""

import sys

from star_jax.cli import convert

if __name__ == "__main__":
  sys.exit(convert.main())

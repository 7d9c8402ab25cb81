"""``python -m star_jax.showcase``: the command is ``star_jax.cli.showcase``."""

import sys

from star_jax.cli import showcase

if __name__ == "__main__":
  sys.exit(showcase.main())

"""``python -m star_jax.export``: the command is ``star_jax.cli.export``."""

import sys

from star_jax.cli import export

if __name__ == "__main__":
  sys.exit(export.main())

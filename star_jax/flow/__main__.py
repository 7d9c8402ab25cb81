"""``python -m star_jax.flow``: the command is ``star_jax.cli.flow``."""

import sys

from star_jax.cli import flow

if __name__ == "__main__":
  sys.exit(flow.main())

"""``python -m star_jax.evaluate``: the command is ``star_jax.cli.evaluate``."""

import sys

from star_jax.cli import evaluate

if __name__ == "__main__":
  sys.exit(evaluate.main())

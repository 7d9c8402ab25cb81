"""``python -m star_jax.plan``: the command is ``star_jax.cli.plan``."""

from absl import flags

from star_jax.cli import plan

# --help shows the main module's docstring and flags: the command's usage and its flags.
__doc__ = plan.__doc__  # pylint: disable=redefined-builtin
flags.adopt_module_key_flags(plan)

if __name__ == "__main__":
  plan.start()

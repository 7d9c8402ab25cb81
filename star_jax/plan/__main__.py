"""``python -m star_jax.plan``: the command is ``star_jax.cli.plan``."""

from absl import flags

from star_jax.cli import plan

# --help lists the command's flags (absl shows the main module's own).
flags.adopt_module_key_flags(plan)

if __name__ == "__main__":
  plan.start()

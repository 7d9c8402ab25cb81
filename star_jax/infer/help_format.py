"""``--help`` formatting shared by the command-line tools."""

import argparse


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
  """Appends "(default: ...)" only where there is a default worth reading: options whose
  default is None or False are computed or off, and their help text says so."""

  def _get_help_string(self, action):
    if action.default is None or action.default is False or action.default == argparse.SUPPRESS:
      return action.help
    return super()._get_help_string(action)

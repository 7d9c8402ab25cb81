"""Which devices a command runs on: starting jax's backend with one-line diagnoses, the
platform line every command prints at start, and the check that refuses to run on the CPU
when an accelerator was expected.

* :func:`start_backend` initialises jax's backends. ``JAX_PLATFORMS=cuda`` (or ``gpu``,
  ``tpu``) where that platform's plugin is not installed or its hardware is absent makes jax
  fail with a bare ``AssertionError`` or a ``RuntimeError``; this raises
  :class:`~star_jax.errors.UserInputError` instead, naming the missing plugin and the
  install command (the pinned extras of ``pyproject.toml``: ``pip install -e '.[cuda]'``,
  ``pip install -e '.[tpu]'``) or the missing hardware. With libtpu installed (``make
  install`` adds it for the plan command) on a machine without a TPU, libtpu's start-up
  warnings (no TPU metadata, no worker hostnames) go to the command's log file, or nowhere,
  instead of the console (:func:`native_output_to`).
* :func:`platform_line`: ``platform: gpu (device kind NVIDIA H100 80GB HBM3), process 0/1, 8
  local / 8 global devices``; on a CPU with a GPU or TPU visible but unused (a CPU-only jaxlib
  on a GPU node: jax falls back to the CPU with only a log warning) it says so and why.
* :func:`require_accelerator` raises UserInputError when jax's default backend is the CPU
  (``star_jax.main``'s ``config.require_accelerator``, ``--require-accelerator`` of infer and
  evaluate), naming what was found, the likely cause and the fix.

Hardware is detected as jax's own probe does (``jax._src.hardware_utils``, private, so not
imported): an NVIDIA GPU by its device files, a TPU by Google's PCI vendor id.
"""

import contextlib
import glob
import importlib.metadata
import importlib.util
import os
import pathlib
import sys
from typing import Iterator, Optional, Tuple

import jax

from star_jax.errors import UserInputError

ACCELERATOR_PLATFORMS = ("gpu", "tpu")  # jax.default_backend() names of accelerators
NVIDIA_DEVICE_FILES = ("/dev/nvidia0", "/dev/nvidiactl", "/dev/dxg")  # dxg: WSL2
GOOGLE_PCI_VENDOR = "0x1ae0"  # TPU chips attach over PCI under Google's vendor id
# jax's CUDA plugin packages (the jax[cuda12] / jax[cuda13] extras install one of them).
CUDA_PLUGIN_MODULES = ("jax_cuda12_plugin", "jax_cuda13_plugin")
TPU_PLUGIN_MODULE = "libtpu"
PACKAGE = "star_jax"


def visible_nvidia_device() -> Optional[str]:
  """The first NVIDIA device file present (a GPU this process could use), else None."""
  return next((path for path in NVIDIA_DEVICE_FILES if os.path.exists(path)), None)


def visible_tpu_chips() -> int:
  """How many PCI devices of Google's vendor id (TPU chips) this machine shows."""
  count = 0
  for vendor in glob.glob("/sys/bus/pci/devices/*/vendor"):
    try:
      count += pathlib.Path(vendor).read_text().strip() == GOOGLE_PCI_VENDOR
    except OSError:
      continue
  return count


def cuda_plugin_installed() -> bool:
  return any(importlib.util.find_spec(name) is not None for name in CUDA_PLUGIN_MODULES)


def tpu_plugin_installed() -> bool:
  return importlib.util.find_spec(TPU_PLUGIN_MODULE) is not None


def install_command(extra: str) -> str:
  """``pip install -e '.[extra]'`` and the requirement it pins (from star_jax's installed
  metadata, i.e. pyproject.toml), e.g. ``pip install -e '.[cuda]' (jax[cuda12]==0.10.2)``."""
  command = f"pip install -e '.[{extra}]'"
  try:
    requirements = importlib.metadata.requires(PACKAGE) or []
  except importlib.metadata.PackageNotFoundError:  # run from a checkout without installing
    return command
  pinned = [r.split(";")[0].strip() for r in requirements
            if r.replace("'", '"').split(";")[-1].strip() == f'extra == "{extra}"']
  return f"{command} ({', '.join(pinned)})" if pinned else command


def requested_platforms() -> Tuple[str, ...]:
  """The platforms ``JAX_PLATFORMS`` (or ``jax.config.jax_platforms``) names, in order;
  empty when jax chooses by itself."""
  value = jax.config.jax_platforms or ""
  return tuple(p.strip().lower() for p in value.split(",") if p.strip())


def _platforms_setting() -> str:
  return f"JAX_PLATFORMS={','.join(requested_platforms())}"


def _unusable_platform(platform: str, error: BaseException) -> Optional[str]:
  """Why ``platform`` (named in JAX_PLATFORMS) cannot start on this machine, as a sentence,
  or None when the plugin and the hardware are both present (then jax's own error is the
  news)."""
  setting = _platforms_setting()
  if platform in ("cuda", "gpu"):
    gpu = visible_nvidia_device()
    if not cuda_plugin_installed():
      hardware = "" if gpu else "; this machine shows no NVIDIA GPU either"
      return (f"{setting} but jax's CUDA plugin is not installed (this jaxlib is the CPU "
              f"build{hardware}): install it with {install_command('cuda')}, or unset "
              "JAX_PLATFORMS to run on the CPU")
    if not gpu:
      return (f"{setting} but no NVIDIA GPU is visible on this machine (none of "
              f"{', '.join(NVIDIA_DEVICE_FILES)}): run on a GPU node, or unset JAX_PLATFORMS "
              "to run on the CPU")
    return None
  if platform == "tpu":
    if not tpu_plugin_installed():
      return (f"{setting} but libtpu (jax's TPU plugin) is not installed: install it with "
              f"{install_command('tpu')}, or unset JAX_PLATFORMS to run on the CPU")
    if not visible_tpu_chips():
      return (f"{setting} but this machine has no TPU (libtpu is installed; no PCI device of "
              f"Google's vendor id {GOOGLE_PCI_VENDOR}): run on a TPU VM, or unset "
              "JAX_PLATFORMS to run on the CPU")
    return None
  if platform == "rocm":
    return (f"{setting}: star_jax installs no ROCm plugin for jax (its extras are cuda and "
            "tpu); unset JAX_PLATFORMS to run on the CPU")
  if platform != "cpu" and "not in the list of known backends" in str(error):
    return f"{setting} names an unknown platform '{platform}' (cpu, cuda, gpu, tpu)"
  return None


@contextlib.contextmanager
def native_output_to(log_path: Optional[str]) -> Iterator[None]:
  """Points the process's stdout and stderr file descriptors (where C++ libraries such as
  libtpu write their logging and start-up warnings) at ``log_path`` (appended) for the
  block, then restores them; Python's ``sys.stdout``/``sys.stderr`` are flushed first.
  ``None`` leaves them as they are."""
  if log_path is None:
    yield
    return
  sys.stdout.flush()
  sys.stderr.flush()
  saved = [os.dup(1), os.dup(2)]
  log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
  try:
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    yield
  finally:
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(saved[0], 1)
    os.dup2(saved[1], 2)
    for fd in saved + [log_fd]:
      os.close(fd)


def start_backend(log_path: Optional[str] = None) -> None:
  """Initialises jax's backends (``jax.devices()``). When libtpu is installed but this
  machine shows no TPU chip, what the backends print while starting goes to ``log_path``
  (``os.devnull`` when None): it is libtpu looking for TPU metadata a non-TPU machine lacks.

  Raises:
    UserInputError: ``JAX_PLATFORMS`` names a platform whose jax plugin is not installed or
      whose hardware this machine lacks, or an unknown platform; the message names the
      plugin and its install command, or the hardware.
    Exception: jax's own error when plugin and hardware are there but the backend still
      failed (a driver or runtime problem: not the user's input).
  """
  quiet = tpu_plugin_installed() and not visible_tpu_chips()
  try:
    with native_output_to((log_path or os.devnull) if quiet else None):
      jax.devices()
  except Exception as error:  # pylint: disable=broad-except (jax raises AssertionError here)
    for platform in requested_platforms():
      reason = _unusable_platform(platform, error)
      if reason:
        raise UserInputError(reason) from error
    raise


def _unused_accelerator() -> Optional[str]:
  """Why a GPU or TPU this machine shows is not what jax runs on (call only when jax's
  default backend is the CPU), or None when none is visible."""
  gpu, tpus = visible_nvidia_device(), visible_tpu_chips()
  if gpu and not cuda_plugin_installed():
    return (f"an NVIDIA GPU is visible ({gpu}) but jax's CUDA plugin is not installed (a "
            f"CPU-only jaxlib): {install_command('cuda')}")
  if tpus and not tpu_plugin_installed():
    return (f"{tpus} TPU chip(s) are visible but libtpu (jax's TPU plugin) is not installed: "
            f"{install_command('tpu')}")
  if requested_platforms() and (gpu or tpus):
    return f"{_platforms_setting()} leaves the visible {'GPU' if gpu else 'TPU'} unused"
  if gpu or tpus:
    return (f"a {'GPU' if gpu else 'TPU'} is visible and jax's plugin for it is installed, but "
            "its backend did not start (jax's warning says why, e.g. a driver older than the "
            "plugin, or another process holding the device)")
  return None


def platform_line() -> str:
  """One line: the platform jax runs on, its device kind(s), this process among all and the
  local / global device counts, and an unused accelerator with its likely cause, e.g.
  ``platform: cpu (device kind cpu), process 0/1, 1 local / 1 global devices``."""
  kinds = sorted({d.device_kind for d in jax.local_devices()})
  line = (f"platform: {jax.default_backend()} (device kind {', '.join(kinds)}), process "
          f"{jax.process_index()}/{jax.process_count()}, {jax.local_device_count()} local / "
          f"{jax.device_count()} global devices")
  unused = _unused_accelerator() if jax.default_backend() not in ACCELERATOR_PLATFORMS else None
  return f"{line}; {unused}" if unused else line


def require_accelerator(requirement: str, opt_out: str) -> None:
  """Refuses to go on when jax's default backend is not a GPU or TPU.

  Args:
    requirement: what asked for an accelerator, as the user set it
      (``config.require_accelerator``, ``--require-accelerator``).
    opt_out: how to run on the CPU anyway, as a phrase (``pass
      --config.require_accelerator=False``, ``leave out --require-accelerator``).
  Raises:
    UserInputError: one line naming the platform found, the likely cause (a CPU-only
      jaxlib on a GPU node, ``JAX_PLATFORMS=cpu``, no accelerator on this machine) and the
      install command or the opt-out.
  """
  platform = jax.default_backend()
  if platform in ACCELERATOR_PLATFORMS:
    return
  count = jax.device_count()
  found = f"jax found only {platform} ({count} device{'s' if count > 1 else ''})"
  if requested_platforms() and not any(p in ("cuda", "gpu", "tpu", "rocm")
                                       for p in requested_platforms()):
    cause = f"{_platforms_setting()} is set"
  else:
    cause = _unused_accelerator() or ("this machine shows no GPU or TPU: run on an "
                                      "accelerator node")
  raise UserInputError(f"{requirement} is set but {found}: {cause}; or {opt_out} to run on "
                       "the CPU")


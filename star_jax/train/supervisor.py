"""A parent process for each training process under ``jax.distributed``, so that the loss
of process 0 (the coordinator) is one line too.

When process 0 dies, jaxlib's client in every other process notices within seconds (its
error poll to the coordination service fails) and aborts the process from C++ (SIGABRT)
with ``Terminating process because the JAX distributed service detected fatal errors``;
no Python code runs after that (:mod:`star_jax.train.peers` explains why its watch cannot
speak first). So ``python -m star_jax.main --distributed`` runs the training in a child
process (the same command line, :data:`SUPERVISED_ENV` set) and waits for it:

* the child's exit status is passed on unchanged (0, 1, 2, 130, 143: ``star_jax.cli``'s
  policy and ``star_jax.train.preemption``'s);
* a child aborted by the coordination service is one line, ``error: lost process 0 of 2,
  the jax.distributed coordinator at HOST:PORT (this process's error poll to it failed:
  Socket closed); stopping process 1; details in <workdir>/train.log``, status 1
  (``peers.EXIT_LOST``); a child ended by another signal is one line naming the signal,
  status 1;
* SIGTERM and SIGINT sent to the parent (``docker stop``/GKE signal only the container's
  first process; a terminal's Ctrl-C reaches the parent's process group) are passed to the
  child once each; the child runs in its own process group, so a Ctrl-C is not delivered
  twice;
* the child is killed (``PR_SET_PDEATHSIG``, Linux) when the parent dies, so a SIGKILL to
  the command is a SIGKILL to the training process, as before.

The child writes its place in the cluster (process id, count, coordinator address) to a
file named by :data:`SUPERVISED_ENV` once ``jax.distributed`` is up (:func:`record_identity`);
that is where the parent's message gets them.
"""

import ctypes
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
from typing import Optional

from star_jax.train import peers

SUPERVISED_ENV = "STAR_JAX_SUPERVISED"  # in the child: the identity file's path
_FORWARDED = (signal.SIGTERM, signal.SIGINT)
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
# The fatal line jaxlib's coordination client logs before it aborts the process.
_COORDINATION_ABORT = "the JAX distributed service detected fatal errors"


def is_child() -> bool:
  """True in the training process that :func:`run_child` started."""
  return SUPERVISED_ENV in os.environ


def record_identity(process_id: int, num_processes: int, coordinator: str) -> None:
  """In the child (no-op elsewhere): writes its place in the cluster for the parent."""
  path = os.environ.get(SUPERVISED_ENV)
  if path:
    pathlib.Path(path).write_text(json.dumps(
        {"process_id": process_id, "num_processes": num_processes, "coordinator": coordinator}))


def _die_with_parent() -> None:
  """In the child, before exec: SIGKILL when the parent process ends (Linux only)."""
  try:
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
  except (OSError, AttributeError):  # not Linux: the child outlives a killed parent
    pass


def run_child(log_path: pathlib.Path) -> int:
  """Runs this command line again as a child process and returns the exit status to end
  with (see the module docstring); prints the one ``error:`` line for a child ended by a
  signal it was not sent.

  Args:
    log_path: ``<workdir>/train.log``, where the child's C++ output goes (read from the
      size it has now, for the reason of an abort).
  """
  offset = log_path.stat().st_size if log_path.exists() else 0
  fd, identity_path = tempfile.mkstemp(prefix="star_jax-process-", suffix=".json")
  os.close(fd)
  forwarded = set()
  try:
    # pylint: disable-next=consider-using-with (waited for below)
    child = subprocess.Popen([sys.executable] + sys.orig_argv[1:],
                             env=dict(os.environ, **{SUPERVISED_ENV: identity_path}),
                             process_group=0, preexec_fn=_die_with_parent)

    def forward(signum, frame):
      del frame
      forwarded.add(signum)
      child.send_signal(signum)

    previous = {signum: signal.signal(signum, forward) for signum in _FORWARDED}
    try:
      status = child.wait()
    finally:
      for signum, handler in previous.items():
        signal.signal(signum, handler)
    identity = _read_identity(identity_path)
  finally:
    os.unlink(identity_path)
  if status >= 0 or -status in forwarded:
    return status if status >= 0 else 128 - status
  print(_signal_line(-status, identity, _new_text(log_path, offset), log_path),
        file=sys.stderr, flush=True)
  return peers.EXIT_LOST


def _read_identity(path: str) -> Optional[dict]:
  try:
    return json.loads(pathlib.Path(path).read_text())
  except (OSError, ValueError):  # the child ended before jax.distributed was up
    return None


def _new_text(log_path: pathlib.Path, offset: int) -> str:
  try:
    with open(log_path, "rb") as f:
      f.seek(offset)
      return f.read().decode(errors="replace")
  except OSError:
    return ""


def _signal_line(signum: int, identity: Optional[dict], log_text: str,
                 log_path: pathlib.Path) -> str:
  """The one line for a child ended by signal ``signum`` that it was not sent."""
  try:
    name = signal.Signals(signum).name
  except ValueError:
    name = f"signal {signum}"
  me = f"process {identity['process_id']}" if identity else "this process"
  if (signum == signal.SIGABRT and _COORDINATION_ABORT in log_text
      and (identity is None or identity["process_id"] != 0)):
    count = f" of {identity['num_processes']}" if identity else ""
    where = f" at {identity['coordinator']}" if identity else ""
    grpc = re.findall(r'grpc_message:"([^"]*)"', log_text)
    reason = f": {grpc[-1]}" if grpc else ""
    return (f"error: lost process 0{count}, the jax.distributed coordinator{where} (this "
            f"process's error poll to it failed{reason}); stopping {me}; details in "
            f"{log_path}")
  fatal = re.findall(r"^F\d{4} [^\]]*\] (.*)$", log_text, flags=re.MULTILINE)
  detail = f": {fatal[-1][:200]}" if fatal else ""
  return f"error: training {me} ended by {name}{detail}; details in {log_path}"

"""A work-around for a CPython bug that killed grain's map threads: ``SystemError: AST
constructor recursion depth mismatch``.

Before 3.11.8 and 3.12.2 (python/cpython#106905, fixed by python/cpython#113035), the AST
constructor behind ``ast.parse`` kept its recursion depth in interpreter-wide state. When a
garbage collection inside one thread's parse runs a finalizer and the interpreter switches
threads, a parse in another thread resets that state, and the first parse fails with this
SystemError. Our input pipeline parses in its threads: ``np.load`` reads every ``.npy``
header with ``ast.literal_eval`` (the flow cache's ``.npz`` files); the main thread and
libraries parse too (``inspect.signature`` of builtins, ml_collections' flag paths). A lock
inside one reader only orders that reader's own parses.

:func:`install` wraps ``ast.parse`` -- through which ``ast.literal_eval``, ``inspect`` and
numpy's header reader all go -- with one process-wide re-entrant lock, so Python-level
parses never overlap. It does so only on the affected interpreters (``AFFECTED``) and is
idempotent. ``star_jax.data.pipeline`` installs it when imported, so the training process
and grain's worker processes (which import the pipeline to run its transforms) have it.
``tests/data/test_thread_safe_ast.py`` reproduces the failure deterministically.
"""

import ast
import functools
import sys
import threading

# 3.10 carries the depth check (python/cpython#95185) without the fix; 3.11.8 and 3.12.2
# have the fix.
AFFECTED = (sys.implementation.name == "cpython"
            and (sys.version_info < (3, 11, 8)
                 or (3, 12) <= sys.version_info[:3] < (3, 12, 2)))
_LOCK = threading.RLock()


def _serialised(parse):
  @functools.wraps(parse)
  def parse_one_at_a_time(*args, **kwargs):
    with _LOCK:
      return parse(*args, **kwargs)
  parse_one_at_a_time.serialised = True
  return parse_one_at_a_time


def install(force: bool = False) -> bool:
  """Serialises ``ast.parse`` process-wide on an affected interpreter (``force``: on any).

  Returns:
    whether ``ast.parse`` is now serialised.
  """
  if getattr(ast.parse, "serialised", False):
    return True
  if not (AFFECTED or force):
    return False
  ast.parse = _serialised(ast.parse)
  return True

"""The CPython bug behind grain's "AST constructor recursion depth mismatch", reproduced
deterministically: a garbage collection inside thread A's ``ast.parse`` runs a finalizer
that lets thread B parse; on an affected interpreter A's parse then fails, and with
``thread_safe_ast``'s lock it cannot, since B's parse waits until A's is done."""

import ast
import gc
import pathlib
import subprocess
import sys
import threading

from star_jax.data import thread_safe_ast

SOURCE = "\n".join(f"x{i} = [{i}, ({i}, {{'a': {i}}})]" for i in range(2000))


def _race(parse):
  """What thread A's parse of SOURCE gives when, midway, thread B parses a line."""
  b_may_parse, b_done = threading.Event(), threading.Event()
  outcome = {}

  class Stall:
    """Cyclic garbage whose finalizer, run by the collector inside A's parse, lets B go."""

    def __init__(self):
      self.cycle = self

    def __del__(self):
      if threading.current_thread().name == "A" and not b_may_parse.is_set():
        b_may_parse.set()
        b_done.wait(timeout=2)  # with the lock, B cannot parse now: go on after 2 s

  def thread_a():
    gc.collect()
    threshold = gc.get_threshold()
    for _ in range(3):
      Stall()
    gc.set_threshold(100)  # collect within the parse's first allocations
    try:
      parse(SOURCE)
      outcome["a"] = "parsed"
    except SystemError as error:
      outcome["a"] = str(error)
    finally:
      gc.set_threshold(*threshold)

  def thread_b():
    if b_may_parse.wait(timeout=10):
      parse("y = (1, 2)")
      b_done.set()

  threads = [threading.Thread(target=thread_b, name="B"), threading.Thread(target=thread_a,
                                                                           name="A")]
  for thread in threads:
    thread.start()
  for thread in threads:
    thread.join()
  return outcome["a"]


def test_the_bug_where_affected_and_the_lock_prevents_it():
  unguarded = getattr(ast.parse, "__wrapped__", ast.parse)
  if thread_safe_ast.AFFECTED:
    assert "AST constructor recursion depth mismatch" in _race(unguarded)
  else:  # the interpreter's own fix holds
    assert _race(unguarded) == "parsed"
  thread_safe_ast.install(force=True)
  assert _race(ast.parse) == "parsed"
  assert ast.literal_eval("{'descr': '<f4', 'shape': (64, 112, 2)}")["shape"] == (64, 112, 2)


def test_the_pipeline_installs_it_on_affected_interpreters():
  code = ("import ast, star_jax.data.pipeline, star_jax.data.thread_safe_ast as t; "
          "print(getattr(ast.parse, 'serialised', False), t.AFFECTED)")
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       check=True, cwd=pathlib.Path(__file__).resolve().parents[2]).stdout
  assert out.split() == [str(thread_safe_ast.AFFECTED)] * 2

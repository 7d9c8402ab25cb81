"""Running an iterator ahead in a background thread (decode + flow of the next frame pairs
while the network runs on the current ones).

:func:`prefetched` yields exactly the items of the iterable, in order. The producer thread
stays at most ``depth`` items ahead (a bounded queue, so memory stays bounded). An exception
raised while producing an item is raised again in the consuming thread, as the same object
(type, message and the producer's traceback), after the items produced before it; closing
the consumer early (``break``, an error downstream) stops the producer and joins it.
"""

import queue
import threading
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")
_POLL_SECONDS = 0.05


class _End:
  """Queue marker: the producer is done (``error`` None) or failed with ``error``."""

  def __init__(self, error=None):
    self.error = error


def prefetched(items: Iterable[T], depth: int = 2, name: str = "prefetch") -> Iterator[T]:
  """The items of ``items``, produced by a daemon thread named ``name`` up to ``depth``
  items ahead of the consumer.

  Raises ValueError for ``depth < 1``; re-raises whatever iterating ``items`` raised.
  """
  if depth < 1:
    raise ValueError(f"prefetch depth must be at least 1, got {depth}")
  buffer: "queue.Queue" = queue.Queue(maxsize=depth)
  stop = threading.Event()

  def put(item) -> bool:
    while not stop.is_set():
      try:
        buffer.put(item, timeout=_POLL_SECONDS)
        return True
      except queue.Full:
        continue
    return False

  def produce():
    iterator = iter(items)
    try:
      for item in iterator:
        if not put(item):
          break
      else:
        put(_End())
    except BaseException as error:  # pylint: disable=broad-except  (re-raised by the consumer)
      put(_End(error))
    finally:
      close = getattr(iterator, "close", None)
      if close is not None:
        close()

  thread = threading.Thread(target=produce, name=name, daemon=True)
  thread.start()
  try:
    while True:
      item = buffer.get()
      if isinstance(item, _End):
        if item.error is not None:
          raise item.error
        return
      yield item
  finally:
    stop.set()
    thread.join()

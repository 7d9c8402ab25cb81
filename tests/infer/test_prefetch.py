"""The prefetch thread: order, bounded look-ahead, errors re-raised in the consumer,
early close stopping the producer."""

import threading
import time

import pytest

from star_jax.infer.prefetch import prefetched


def test_items_come_in_order_from_another_thread():
  threads = []

  def produce():
    for index in range(50):
      threads.append(threading.current_thread())
      yield index

  assert list(prefetched(produce(), depth=3)) == list(range(50))
  assert all(thread is not threading.current_thread() for thread in threads)


def test_the_producer_stays_at_most_depth_ahead():
  produced = []

  def produce():
    for index in range(100):
      produced.append(index)
      yield index

  iterator = prefetched(produce(), depth=2)
  assert next(iterator) == 0
  time.sleep(0.3)  # room for a producer that ignored the bound to run far ahead
  # one taken, two queued, one produced and waiting to be queued
  assert len(produced) <= 1 + 2 + 1
  iterator.close()


def test_an_error_in_the_producer_surfaces_after_the_items_before_it():
  def produce():
    yield "a"
    yield "b"
    raise KeyError("frame 2 cannot be decoded")

  received = []
  with pytest.raises(KeyError, match="frame 2 cannot be decoded"):
    for item in prefetched(produce(), depth=1):
      received.append(item)
  assert received == ["a", "b"]


def test_closing_early_stops_and_joins_the_producer():
  closed = threading.Event()

  def produce():
    try:
      for index in range(10**6):
        yield index
    finally:
      closed.set()

  before = threading.active_count()
  for item in prefetched(produce(), depth=2):
    if item == 3:
      break
  assert closed.is_set()
  assert threading.active_count() == before


def test_depth_must_be_positive():
  with pytest.raises(ValueError, match="at least 1"):
    next(prefetched(iter([1]), depth=0))

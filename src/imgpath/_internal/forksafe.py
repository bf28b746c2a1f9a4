"""Locks that a forked child gets back unlocked (engine-notes §8, decisions: workers).

A ``fork()`` copies the memory of a process but only the thread that forked: a lock another thread
held at that moment stays held forever in the child, and the child's first evaluation deadlocks.
Every lock imgpath takes while evaluating is a :class:`Lock` from here; ``os.register_at_fork``
gives each a fresh, unlocked ``threading.Lock`` in the child, whoever forked (imgpath's worker
pool, or the caller's own ``multiprocessing``). What the lock guarded may have been left half
done by the vanished thread: a lock that was held calls its ``if_held_at_fork`` callback in the
child (a rule base abandons its engine session there and builds a fresh ruleset).

>>> lock = Lock()
>>> with lock:
...     lock.locked()
True
"""

from __future__ import annotations

import inspect
import os
import threading
import weakref
from collections.abc import Callable

__all__ = ["Lock"]

_live: weakref.WeakSet[Lock] = weakref.WeakSet()


class Lock:
    """A ``threading.Lock`` (the same methods) that is re-created, unlocked, in a forked child."""

    __slots__ = ("__weakref__", "_if_held", "_lock")

    def __init__(self, if_held_at_fork: Callable[[], object] | None = None) -> None:
        self._lock = threading.Lock()
        # a bound method is held weakly: the lock must not keep its owner alive
        self._if_held: Callable[[], Callable[[], object] | None] | None = (
            None if if_held_at_fork is None else
            weakref.WeakMethod(if_held_at_fork) if inspect.ismethod(if_held_at_fork) else
            (lambda: if_held_at_fork))
        _live.add(self)

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        self._lock.release()

    def locked(self) -> bool:
        return self._lock.locked()

    def __enter__(self) -> bool:
        return self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def _after_fork_in_child() -> None:
    # only the forking thread survives: whatever the others held is released by replacing it
    for lock in list(_live):
        held = lock._lock.locked()
        lock._lock = threading.Lock()
        callback = lock._if_held() if held and lock._if_held is not None else None
        if callback is not None:
            callback()


if hasattr(os, "register_at_fork"):  # POSIX; elsewhere there is no fork
    os.register_at_fork(after_in_child=_after_fork_in_child)

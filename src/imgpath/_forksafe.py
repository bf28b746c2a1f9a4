"""Locks that a forked child gets back unlocked (engine-notes §8, decisions: workers).

A ``fork()`` copies the memory of a process but only the thread that forked: a lock another thread
held at that moment stays held forever in the child, and the child's first evaluation deadlocks.
Every lock imgpath takes while evaluating is a :class:`Lock` from here; ``os.register_at_fork``
gives each a fresh, unlocked ``threading.Lock`` in the child, whoever forked (imgpath's worker
pool, or the caller's own ``multiprocessing``).

>>> lock = Lock()
>>> with lock:
...     lock.locked()
True
"""

from __future__ import annotations

import os
import threading
import weakref

__all__ = ["Lock"]

_live: weakref.WeakSet[Lock] = weakref.WeakSet()


class Lock:
    """A ``threading.Lock`` (the same methods) that is re-created, unlocked, in a forked child."""

    __slots__ = ("__weakref__", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
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
        lock._lock = threading.Lock()


if hasattr(os, "register_at_fork"):  # POSIX; elsewhere there is no fork
    os.register_at_fork(after_in_child=_after_fork_in_child)

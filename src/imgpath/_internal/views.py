"""Where higher layers plug in what lower objects offer their users.

The contract puts ``ev.why()``, ``ev.next_steps()``, ``book.lint()`` and the Jupyter views on the
objects the lower layers build (an :class:`~imgpath.Evaluation`, a :class:`~imgpath.Rulebook`),
while the code that answers them lives above (``explain``, ``plan``, ``lint``, ``render``). So
that nothing imports upward, those modules *provide* their functions here when imported, and
the lower objects *call* them by name. ``imgpath/__init__.py`` names every providing module
(:func:`provide_later`); they are imported on the first call that needs one, so ``import imgpath``
does not pay for the presentation layers an evaluation never uses.

>>> provide("demo", lambda x: x + 1)
>>> call("demo", 1)
2
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["call", "html", "provide", "provide_html", "provide_later"]

_provided: dict[str, Callable[..., Any]] = {}
_html: dict[str, Callable[[Any], str]] = {}
_pending: list[str] = []  # modules that provide views, imported when a view is first asked for
_lock = threading.RLock()


def provide_later(*modules: str) -> None:
    """Name modules (``"imgpath.explain"``) whose import provides views: imported on first need."""
    with _lock:
        _pending.extend(m for m in modules if m not in _pending)


def _load_pending() -> None:
    if not _pending:  # the usual case, without the lock: a fork never finds it held here
        return
    with _lock:
        while _pending:
            importlib.import_module(_pending[0])
            _pending.pop(0)


def provide(name: str, fn: Callable[..., Any]) -> None:
    """Register the function that answers ``name`` (a later registration replaces an earlier one)."""
    _provided[name] = fn


def call(name: str, *args: Any, **kwargs: Any) -> Any:
    """Call the function registered for ``name``."""
    fn = _provided.get(name)
    if fn is None and _pending:
        _load_pending()
        fn = _provided.get(name)
    if fn is None:  # pragma: no cover - imgpath/__init__ names every provider
        raise RuntimeError(f"imgpath: nothing provides {name!r}; import imgpath first")
    return fn(*args, **kwargs)


def provide_html(type_name: str, fn: Callable[[Any], str]) -> None:
    """Register the Jupyter HTML view of objects whose class is named ``type_name``."""
    _html[type_name] = fn


def html(obj: Any) -> str:
    """The HTML view of ``obj`` (its class's registered renderer)."""
    return call_html(type(obj).__name__, obj)


def call_html(type_name: str, obj: Any) -> str:
    fn = _html.get(type_name)
    if fn is None and _pending:
        _load_pending()
        fn = _html.get(type_name)
    if fn is None:  # pragma: no cover
        raise RuntimeError(f"imgpath: no HTML view for {type_name}; import imgpath first")
    return fn(obj)

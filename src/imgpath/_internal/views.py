"""Where higher layers plug in what lower objects offer their users.

The contract puts ``ev.why()``, ``ev.next_steps()``, ``book.lint()`` and the Jupyter views on the
objects the lower layers build (an :class:`~imgpath.Evaluation`, a :class:`~imgpath.Rulebook`),
while the code that answers them lives above (``explain``, ``plan``, ``lint``, ``render``). So
that nothing imports upward, those modules *provide* their functions here when imported, and
the lower objects *call* them by name. ``imgpath/__init__.py`` imports every provider, so by the
time any object exists they are all registered.

>>> provide("demo", lambda x: x + 1)
>>> call("demo", 1)
2
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["call", "html", "provide", "provide_html"]

_provided: dict[str, Callable[..., Any]] = {}
_html: dict[str, Callable[[Any], str]] = {}


def provide(name: str, fn: Callable[..., Any]) -> None:
    """Register the function that answers ``name`` (a later registration replaces an earlier one)."""
    _provided[name] = fn


def call(name: str, *args: Any, **kwargs: Any) -> Any:
    """Call the function registered for ``name``."""
    try:
        fn = _provided[name]
    except KeyError:  # pragma: no cover - imgpath/__init__ imports every provider
        raise RuntimeError(f"imgpath: nothing provides {name!r}; import imgpath first") from None
    return fn(*args, **kwargs)


def provide_html(type_name: str, fn: Callable[[Any], str]) -> None:
    """Register the Jupyter HTML view of objects whose class is named ``type_name``."""
    _html[type_name] = fn


def html(obj: Any) -> str:
    """The HTML view of ``obj`` (its class's registered renderer)."""
    return call_html(type(obj).__name__, obj)


def call_html(type_name: str, obj: Any) -> str:
    try:
        fn = _html[type_name]
    except KeyError:  # pragma: no cover
        raise RuntimeError(f"imgpath: no HTML view for {type_name}; import imgpath first") from None
    return fn(obj)

"""Load durable-rules' C extension (``durable_rules_engine``) on every CPython imgpath supports.

durable-rules 2.0.28 (the last release, 2020) references ``PyEval_CallObject``, which CPython
3.13 removed. The extension still builds (the compiler only warns), but with the interpreter's
default eager symbol binding the import fails: ``undefined symbol: PyEval_CallObject``.

The symbol is used only by the store / delete / queue / idle-state callbacks
(``set_store_message_callback`` and its siblings, engine-notes §8). imgpath drives the C
functions directly and never sets those callbacks, so the symbol is never called. Loading the
extension with lazy binding (``RTLD_LAZY``: each symbol resolved at its first call, not at load)
therefore works; the dlopen flags are restored right after, so no other extension is affected.
We chose this over shipping a compiled shim that exports the symbol: it needs no second
C build and no change to how durable-rules is installed. The one risk is calling an unresolved
symbol, which would end the process; the driver never sets a callback, and
``tests/test_dre.py`` checks that no imgpath module names one.

>>> callable(engine.create_ruleset)
True
"""

from __future__ import annotations

import os
import sys
import threading
from types import ModuleType

__all__ = ["engine", "load"]

_lock = threading.Lock()
def load() -> ModuleType:
    """Import ``durable_rules_engine``, with lazy symbol binding on CPython 3.13 and later."""
    if sys.version_info < (3, 13) or not hasattr(sys, "setdlopenflags"):
        import durable_rules_engine

        return durable_rules_engine
    with _lock:
        old = sys.getdlopenflags()
        sys.setdlopenflags((old & ~os.RTLD_NOW) | os.RTLD_LAZY)
        try:
            import durable_rules_engine
        except ImportError as err:
            if "PyEval_CallObject" not in str(err):
                raise
            # LD_BIND_NOW in the environment forces eager binding whatever dlopen is asked for
            raise ImportError(
                "durable-rules' C extension cannot load on this Python: it references "
                "PyEval_CallObject, removed in CPython 3.13. Unset LD_BIND_NOW, or rebuild it with "
                "CPPFLAGS=-DPyEval_CallObject=PyObject_CallObject pip install --no-cache-dir "
                "--force-reinstall durable-rules==2.0.28") from err
        finally:
            sys.setdlopenflags(old)
    return durable_rules_engine


engine = load()

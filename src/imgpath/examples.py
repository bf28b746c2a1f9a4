"""The bundled example applicants: found in an installed package (``imgpath/_examples``) or a checkout.

The wheel ships ``examples/`` as ``imgpath/_examples``, so notebooks and tutorials work from an
installed package as well as from a source checkout.

>>> sorted(p.name for p in examples_dir().glob("*.toml"))[:2]
['canadian-cacms-graduate-2026.toml', 'daca-img.toml']
>>> example("india-img-2027").school.country
'IN'
"""

from __future__ import annotations

import difflib
from pathlib import Path

from .errors import QueryError
from .facts import Applicant, load_applicant

__all__ = ["example", "examples_dir"]


def examples_dir() -> Path:
    """The folder of example documents: inside the installed package, or ``examples/`` of a checkout."""
    package = Path(__file__).resolve().parent
    for folder in (package / "_examples", package.parent.parent / "examples"):
        if folder.is_dir():
            return folder
    raise QueryError(f"cannot find the example applicants (looked in {package / '_examples'} and "
                     f"{package.parent.parent / 'examples'}); reinstall imgpath")


def example(name: str) -> Applicant:
    """One example applicant by file name, with or without ``.toml`` (``example("india-img-2027")``)."""
    folder = examples_dir()
    path = folder / (name if name.endswith((".toml", ".json")) else f"{name}.toml")
    if not path.is_file():
        names = sorted(p.stem for p in folder.glob("*.toml"))
        close = difflib.get_close_matches(name, names, n=1)
        raise QueryError(f"no example {name!r}{f'; did you mean {close[0]!r}?' if close else ''}; "
                         f"the examples are: {', '.join(names)}")
    return load_applicant(path)

"""A griffe extension for the API reference: imgpath's docstrings are written in reST-flavoured
plain text; this turns the few reST idioms they use into Markdown before mkdocstrings renders them.

* doctest blocks (``>>>`` lines, their ``...`` continuations and the expected output) become
  fenced ``pycon`` blocks, so they are not read as Markdown block quotes;
* literal blocks introduced by ``::`` become fenced code (``toml`` when they look like TOML);
* roles such as :class:`~imgpath.InvalidFacts`, :func:`rulebook` or :data:`NONE` become inline code
  (the name after ``~`` is shortened to its last component, as Sphinx does);
* functions decorated with Hypothesis's ``@st.composite`` lose their first parameter (``draw``) in
  the rendered signature, since callers never pass it, and return a ``SearchStrategy`` of what the
  function builds;
* private parameters (``_goals``, ``_depth``: a leading underscore) are left out of signatures.

The source docstrings are not changed; this runs only while the documentation is built
(``mkdocs.yml``: ``plugins.mkdocstrings.handlers.python.options.extensions``).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|func|meth|data|attr|mod|exc|obj):`(~?)([^`]+)`")


def _role(match: re.Match[str]) -> str:
    short, target = match.group(1), match.group(2)
    return f"`{target.rsplit('.', 1)[-1] if short else target}`"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _language(block: list[str]) -> str:
    first = next((ln.strip() for ln in block if ln.strip()), "")
    return "toml" if first.startswith("[") or re.match(r"^[a-z_]+ = ", first) else "python"


def convert(text: str) -> str:
    """The docstring ``text`` with doctests and literal blocks fenced and roles turned into code."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    fence_open = False
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip(" ")
        if stripped.startswith("```"):
            fence_open = not fence_open
            out.append(line)
            i += 1
            continue
        if fence_open:
            out.append(line)
            i += 1
            continue
        if stripped.startswith(">>>"):
            pad = " " * _indent(line)
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i][len(pad):] if lines[i].startswith(pad) else lines[i].lstrip())
                i += 1
            out.extend([f"{pad}```pycon", *(pad + b for b in block), f"{pad}```"])
            continue
        if stripped.endswith("::") and not stripped.startswith(".."):
            # a paragraph ending in '::' introduces the indented literal block after the blank line
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            base = _indent(line)
            if j < len(lines) and _indent(lines[j]) > base:
                head = line[:-1] if not stripped == "::" else ""
                if head.strip():
                    out.append(head)
                block_indent = _indent(lines[j])
                block: list[str] = []
                k = j
                while k < len(lines) and (not lines[k].strip() or _indent(lines[k]) >= block_indent):
                    block.append(lines[k][block_indent:] if lines[k].strip() else "")
                    k += 1
                while block and not block[-1]:
                    block.pop()
                pad = " " * base
                out.extend(["", f"{pad}```{_language(block)}", *((pad + b) if b else "" for b in block),
                            f"{pad}```", ""])
                i = k
                continue
        out.append(_ROLE.sub(_role, line))
        i += 1
    return "\n".join(out)


class RstToMarkdown(griffe.Extension):
    """Rewrite every docstring once the object tree is built."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:  # noqa: ARG002 - griffe's hook
        if obj.docstring is not None:
            obj.docstring.value = convert(obj.docstring.value)
        if obj.is_function:
            for name in [p.name for p in obj.parameters if p.name.startswith("_") and not p.name.startswith("__")]:
                del obj.parameters[name]
        if obj.is_function and any(str(d.value).endswith("composite") for d in obj.decorators):
            params = list(obj.parameters)
            if params and params[0].name == "draw":
                del obj.parameters["draw"]
            if obj.returns is not None:
                obj.returns = f"SearchStrategy[{obj.returns}]"

"""The ``imgpath`` command line (contract §5): check, explain, plan, batch, rules, params, timeline.

Exit status: 0 on success, 2 on bad input (the file and field are named, with a hint), 1 on an
internal error. Nothing is written when the input is bad.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._internal.version import VERSION as __version__
from .batch import run_batch
from .errors import EngineError, ImgpathError, InvalidArguments, InvalidFacts, QueryError, RuleError
from .evaluation import evaluate
from .facts import load_applicant
from .lint import STALE_AFTER_DAYS, primary_share, stale_sources
from .parameters import parameters
from .rulebook import load_rulebook, rulebook
from .timeline import timeline

__all__ = ["main"]


def _date(text: str) -> _dt.date:
    try:
        return _dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-01-15, got {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="imgpath", description=(
        "Rules-as-code for international medical graduates: IMG status, ECFMG certification, the Match, "
        "visas and U.S. licensure, each answer dated, cited and explained. Not legal or immigration advice."))
    p.add_argument("--version", action="version", version=f"imgpath {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--as-of", type=_date, help="the date to apply the law and read the facts "
                        "(default: the document's as_of, else today)")
        sp.add_argument("--format", choices=("text", "json"), default="text")
        sp.add_argument("--engine", choices=("durable", "reference"), default="durable")

    c = sub.add_parser("check", help="evaluate an applicant and print every verdict with its reason and source")
    c.add_argument("file", type=Path)
    c.add_argument("--all", action="store_true", help="also show internal helper conclusions")
    common(c)

    e = sub.add_parser("explain", help="why (or why not) a conclusion holds")
    e.add_argument("file", type=Path)
    e.add_argument("conclusion")
    e.add_argument("args", nargs="*", metavar="ARG=VALUE", help="conclusion arguments, e.g. state=TX")
    common(e)

    pl = sub.add_parser("plan", help="next steps that would make a goal YES")
    pl.add_argument("file", type=Path)
    pl.add_argument("--goal", default=None, help="the conclusion to work toward (default: the rules' "
                    "default_goal, may_start_acgme_residency)")
    pl.add_argument("args", nargs="*", metavar="ARG=VALUE", help="goal arguments, e.g. state=TN")
    common(pl)

    b = sub.add_parser("batch", help="evaluate a cohort (CSV or JSONL) with a progress bar")
    b.add_argument("file", type=Path)
    b.add_argument("-o", "--output", type=Path, required=True, help="output .csv or .jsonl")
    b.add_argument("--errors", type=Path, help="where rows that fail validation go (default: OUTPUT.errors.jsonl)")
    b.add_argument("--workers", type=int, default=1)
    b.add_argument("--as-of", type=_date)
    b.add_argument("--conclusions", help="comma-separated conclusions to output (default: all public)")
    b.add_argument("--no-progress", action="store_true")

    r = sub.add_parser("rules", help="list the rules with sources and effective windows")
    r.add_argument("--lint", action="store_true", help="check the rulebook (errors, warnings, the primary "
                   "share per file); exit non-zero on errors")
    r.add_argument("--stale", action="store_true", help="list the sources not checked for more than a year")
    r.add_argument("--today", type=_date, help="the date lint and --stale judge freshness at (default: today)")
    r.add_argument("--format", choices=("text", "json"), default="text")
    r.add_argument("--path", type=Path, help="a rules folder other than the packaged one")

    pa = sub.add_parser("params", help="the dated parameters of the rulebook, each value with its window, "
                        "sources and confidence")
    pa.add_argument("name", nargs="?", help="a parameter (oet_writing_min), a table or data file (seasons, "
                    "calendar) or one value (states.TX.img_gme_years); default: all")
    pa.add_argument("--season", type=int, help="only this Match season's values")
    pa.add_argument("--state", help="only this state's values (two-letter code)")
    pa.add_argument("--as-of", type=_date, help="only the values an evaluation on this date reads")
    pa.add_argument("--format", choices=("text", "json"), default="text")
    pa.add_argument("--path", type=Path, help="a rules folder other than the packaged one")

    t = sub.add_parser("timeline", help="the dates where a conclusion's verdict or value changes for an applicant")
    t.add_argument("file", type=Path)
    t.add_argument("conclusion")
    t.add_argument("args", nargs="*", metavar="ARG=VALUE", help="conclusion arguments, e.g. state=TX")
    t.add_argument("--from", dest="start", type=_date, required=True, help="first date of the period")
    t.add_argument("--to", dest="end", type=_date, required=True, help="last date of the period")
    t.add_argument("--format", choices=("text", "json"), default="text")
    t.add_argument("--engine", choices=("durable", "reference"), default="durable")
    return p


def _args(pairs: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise InvalidArguments(f"{pair!r}: conclusion arguments are ARG=VALUE, e.g. state=TX or pathway=6")
        k, v = pair.split("=", 1)
        out[k] = int(v) if v.isdigit() else v
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    ns, extra = parser.parse_known_args(argv)
    # ARG=VALUE may also come after the options (imgpath plan FILE --goal licensable state=TX)
    if extra:
        if hasattr(ns, "args") and all("=" in e and not e.startswith("-") for e in extra):
            ns.args = [*ns.args, *extra]
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return _run(ns)
    except InvalidFacts as err:
        _print_invalid(err)
        return 2
    except QueryError as err:
        print(f"imgpath: {err}", file=sys.stderr)
        return 2
    except RuleError as err:
        # rules the user pointed at are their input; the packaged rules failing is our bug
        print(f"imgpath: rule error: {err}", file=sys.stderr)
        return 2 if getattr(ns, "path", None) else 1
    except (EngineError, ImgpathError) as err:
        print(f"imgpath: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("imgpath: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - an internal bug: never reported as bad input
        if os.environ.get("IMGPATH_DEBUG"):
            raise
        print(f"imgpath: internal error ({type(err).__name__}: {err}); this is a bug in imgpath, not in "
              "your input. Run again with IMGPATH_DEBUG=1 for the traceback and report it.", file=sys.stderr)
        return 1


def _print_invalid(err: InvalidFacts) -> None:
    """Every problem of a bad document, one per line (contract §6.11), then where the schema is."""
    if len(err.errors) == 1:
        print(f"imgpath: invalid input: {err}", file=sys.stderr)
    else:
        where = f"{err.file}: " if err.file else ""
        print(f"imgpath: invalid input: {where}{len(err.errors)} problems", file=sys.stderr)
        for e in err.errors:
            print(f"  {e.path}: {e.problem}" if e.path else f"  {e.problem}", file=sys.stderr)
    print("hint: see the applicant schema in docs/reference/schema.md or `imgpath check --help`", file=sys.stderr)


def _run(ns: argparse.Namespace) -> int:
    if ns.command == "rules":
        return _rules(ns)
    if ns.command == "batch":
        return run_batch(ns)
    if ns.command == "params":
        return _params(ns)
    if ns.command == "timeline":
        return _timeline(ns)
    applicant = load_applicant(ns.file)
    ev = evaluate(applicant, as_of=ns.as_of, engine=ns.engine)
    if ns.format == "text" and ns.command != "check":
        _print_warnings(ev)  # what to know before reading any answer (contract §1.1)
    if ns.command == "check":
        _check(ev, ns)
    elif ns.command == "explain":
        args = _args(ns.args)
        verdict = ev.verdict(ns.conclusion, **args)
        result = ev.why(ns.conclusion, **args) if verdict.value == "yes" else ev.why_not(ns.conclusion, **args)
        if ns.format == "json":
            print(json.dumps({**result.to_dict(), "warnings": [w.to_dict() for w in ev.warnings]}, indent=2))
        else:
            print(result)
    elif ns.command == "plan":
        plan = ev.next_steps(ns.goal, **_args(ns.args))
        print(json.dumps(plan.to_dict(), indent=2) if ns.format == "json" else plan)
    return 0


def _print_warnings(ev: Any) -> None:
    for w in ev.warnings:
        print(f"warning ({w.code}): {w.message}")


def _check(ev: Any, ns: argparse.Namespace) -> None:
    """The header, the warnings, a short summary (declared in rules/data/display.toml), then every
    conclusion: what it answers (shown value), what it means, why, and its first source."""
    conclusions = [c for c in ev.conclusions] if not ns.all else [
        ev.conclusion(n, **dict(a)) for n, a in ev.instances()]
    if ns.format == "json":
        doc = ev.to_dict(reasons=True)
        if ns.all:
            doc["conclusions"] = [{**c.to_dict(), "reason": c.reason} for c in conclusions]
        print(json.dumps(doc, indent=2))
        return
    print(f"imgpath {__version__} — as of {ev.as_of}, Match season {ev.season} (not legal or immigration advice)")
    _print_warnings(ev)
    summary = ev.summary()
    if summary:
        title = ev.book.extras.get("display", {}).get("summary", {}).get("title", "Summary")
        width = max(len(c.label) for c in summary)
        print(f"\n{title}")
        for c in summary:
            print(f"  {c.label:<{width}}  {c.shown:<7} {c.reason}")
        print("\nEvery conclusion")
    width = max(len(c.label) for c in conclusions)
    for c in conclusions:
        conf = "" if c.confidence == "primary" else f"  [{c.confidence}]"
        print(f"{c.label:<{width}}  {c.shown}{conf}")
        description = ev.book.conclusions[c.name].description
        if description:
            print(f"    means:  {description}")
        reason = c.reason
        if reason:
            print(f"    why:    {reason}")
        if c.sources:
            print(f"    source: {c.sources[0].url}")


def _params(ns: argparse.Namespace) -> int:
    book = load_rulebook(ns.path) if ns.path else rulebook()
    found = parameters(ns.name, on=ns.as_of, season=ns.season, state=ns.state, rulebook=book)
    print(json.dumps(found.to_dict(), indent=2) if ns.format == "json" else found)
    return 0


def _timeline(ns: argparse.Namespace) -> int:
    applicant = load_applicant(ns.file)
    found = timeline(applicant, ns.conclusion, start=ns.start, end=ns.end, engine=ns.engine, **_args(ns.args))
    print(json.dumps(found.to_dict(), indent=2) if ns.format == "json" else found)
    return 0


def _rules(ns: argparse.Namespace) -> int:
    book = load_rulebook(ns.path) if ns.path else rulebook()
    if ns.stale:
        stale = stale_sources(book, ns.today)
        for sid, checked, age in stale:
            citing = [r.id for r in book.rules if sid in r.sources]
            print(f"{sid}  last checked {checked or 'never'}{f' ({age} days ago)' if age is not None else ''}  "
                  f"{book.sources[sid].url}" + (f"\n    cited by {', '.join(citing[:6])}" if citing else ""))
        print(f"{len(stale)} of {len(book.sources)} sources not checked within {STALE_AFTER_DAYS} days of "
              f"{ns.today or _dt.date.today()}")
        return 0
    if ns.lint:
        issues = book.lint(today=ns.today)
        for issue in issues:
            print(issue)
        for share in primary_share(book):
            print(share)
        errors = sum(1 for i in issues if i.level == "error")
        print(f"{len(book.rules)} rules, {len(book.sources)} sources: {errors} error(s), "
              f"{len(issues) - errors} warning(s)")
        return (2 if ns.path else 1) if errors else 0
    if ns.format == "json":
        print(json.dumps(book.to_dict(), indent=2, default=str))
        return 0
    for r in book.rules:
        print(f"{r.id}  [{r.confidence}]  {r.window.span}")
        print(f"    {r.title}")
        print(f"    sources: {', '.join(book.sources[s].url for s in r.sources)}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

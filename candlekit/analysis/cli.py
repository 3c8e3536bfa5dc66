"""``candlekit analyze`` and ``candlekit analyses``: the command line of the analyst.

Wire them into the main parser with :func:`add_parsers`. Every command prints text for
people (the narrative as Markdown, tables) or JSON with ``--json``; errors propagate as
:class:`~candlekit.errors.CandlekitError` for the main entry point to print on stderr with
its exit code. Analyses of synthetic data are printed under the SYNTHETIC DATA banner.

Examples
--------
::

    candlekit analyze BTC --interval 4h
    candlekit analyze BTC --interval 4h --prompt "levels and divergence" --as-of 2026-10-20
    candlekit analyze BTC --interval 1h --llm llama3.1:8b --llm-url http://127.0.0.1:11434/v1
    candlekit analyses                    # the history, newest first
    candlekit analyses show an-1a2b3c4d
    candlekit analyses grade              # grade every call whose horizon has closed
    candlekit analyses delete an-1a2b3c4d
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

import pandas as pd

from ..provenance import SYNTHETIC_BANNER, is_synthetic
from ..store import Store
from .api import analyses, delete_analysis, get_analysis, grade_analyses, run_analysis
from .model import Analysis

__all__ = ["add_parsers", "cmd_analyses", "cmd_analyze", "format_analysis"]

_LIST_COLUMNS = ("id", "status", "symbol", "interval", "as_of", "direction", "p_up",
                 "horizon", "model", "source", "created_at")
_GRADE_COLUMNS = ("id", "symbol", "interval", "as_of", "direction", "p_up", "horizon",
                  "status", "outcome", "realized_return", "hit", "note")


def _leaf() -> argparse.ArgumentParser:
    """``--data`` and ``--json`` for sub-actions, which must not reset the parent's."""
    leaf = argparse.ArgumentParser(add_help=False)
    leaf.add_argument("--data", metavar="DIR", default=argparse.SUPPRESS,
                      help="store root (default: $CANDLEKIT_DATA or ./data)")
    leaf.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                      help="print JSON for machines")
    return leaf


def _pct(x: Any) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"


def format_analysis(a: Analysis) -> str:
    """An analysis as text for a terminal: header, narrative, call, model verdict."""
    lines = []
    if a.synthetic:
        lines.append(SYNTHETIC_BANNER)
    where = f", source {a.source}" if a.source else ""
    lines.append(f"analysis {a.id or '(not recorded)'}: {a.status} | {a.symbol} {a.interval} "
                 f"as of {a.as_of or '?'}{where} | created {a.created_at or '?'}")
    if a.prompt:
        lines.append(f"prompt: {a.prompt}")
    if a.error:
        lines.append(f"error: {a.error}")
    if a.text:
        lines += ["", a.text.rstrip(), ""]
    if a.call is not None:
        c = a.call
        lines.append(f"call: {c.direction} over the next {c.horizon} bars, P(up) "
                     f"{_pct(c.p_up)}, reference close {c.reference_close:,.10g}, flat band "
                     f"+/-{c.dead_band:,.6g} (a call, not a promise: see its track record)")
    if a.llm is not None:
        v = a.llm
        cached = " (cached response)" if v.cached else ""
        if v.accepted:
            lines.append(f"language model {v.model}: accepted{cached}; every number in its "
                         "prose is one of the facts")
        else:
            lines.append(f"language model {v.model}: rejected{cached}: {v.reason}; the text "
                         "above is candlekit's own")
    if a.synthetic:
        lines.append(SYNTHETIC_BANNER)
    return "\n".join(lines)


def _plain(value: Any) -> Any:
    """A JSON-ready scalar: ISO 8601 UTC times with Z, None for missing, exact floats."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in row.items()} for row in df.to_dict(orient="records")]


def _table(df: pd.DataFrame, columns: tuple[str, ...]) -> str:
    if not len(df):
        return "(none)"
    shown = df[[c for c in columns if c in df.columns]].copy()
    if "p_up" in shown:
        shown["p_up"] = shown["p_up"].map(_pct)
    if "realized_return" in shown:
        shown["realized_return"] = shown["realized_return"].map(
            lambda x: "" if pd.isna(x) else f"{100 * x:+.2f}%")
    return shown.to_string(index=False, na_rep="")


def _llm(args: argparse.Namespace) -> Any:
    if args.llm is None:
        if args.llm_url is not None:
            from ..errors import LLMConfigError

            raise LLMConfigError("--llm-url needs --llm MODEL (the model name the server "
                                 "knows, e.g. --llm llama3.1:8b).")
        return None
    from .llm import DEFAULT_KEY_ENV, LLM

    return LLM(args.llm, base_url=args.llm_url, api_key_env=args.llm_key_env or DEFAULT_KEY_ENV)


def cmd_analyze(args: argparse.Namespace) -> int:
    """Handler of ``candlekit analyze``: analyse a stored series and record it."""
    analysis = run_analysis(args.symbol, args.interval, store=Store(args.data),
                            source=args.source, as_of=args.as_of, prompt=args.prompt,
                            llm=_llm(args), horizon=args.horizon, lookback=args.lookback)
    print(json.dumps(analysis.to_dict()) if args.json else format_analysis(analysis))
    return 0 if analysis.status == "completed" else 1


def cmd_analyses(args: argparse.Namespace) -> int:
    """Handler of ``candlekit analyses [list|show ID|grade|delete ID]``."""
    store = Store(args.data)
    action = getattr(args, "action", None) or "list"
    if action == "list":
        table = analyses(store)
        if args.json:
            print(json.dumps(_records(table)))
            return 0
        if len(table) and table["synthetic"].any():
            print(SYNTHETIC_BANNER)
        print(_table(table, _LIST_COLUMNS))
        return 0
    if action == "show":
        a = get_analysis(args.analysis_id, store)
        print(json.dumps(a.to_dict()) if args.json else format_analysis(a))
        return 0
    if action == "delete":
        delete_analysis(args.analysis_id, store)
        if args.json:
            print(json.dumps({"deleted": args.analysis_id}))
        else:
            print(f"deleted analysis {args.analysis_id} (candles are never touched).")
        return 0
    grades = grade_analyses(store)
    if args.json:
        print(json.dumps({"summary": grades.summary, "calls": _records(grades.calls)}))
        return 0
    synthetic = grades.synthetic or (len(grades.calls) and is_synthetic(
        list(grades.calls["source"].dropna())))
    if synthetic:
        print(SYNTHETIC_BANNER)
    s = grades.summary
    print(_table(grades.calls, _GRADE_COLUMNS))
    per = grades.by_series()
    if len(per) > 1:
        print("\nper series")
        shown = per[["symbol", "interval", "source", "n", "hit_rate", "base_rate_up",
                     "brier_skill", "pending", "missing"]].copy()
        for c in ("hit_rate", "base_rate_up"):
            shown[c] = shown[c].map(_pct)
        print(shown.to_string(index=False, na_rep=""))
    print()
    if s["n"]:
        lo, hi = s["hit_rate_ci95"]
        print(f"{s['n']} graded call(s): right {_pct(s['hit_rate'])} "
              f"[{_pct(lo)}, {_pct(hi)}] (Wilson 95%); up moves {_pct(s['base_rate_up'])}; "
              f"Brier {s['brier']:.4f} against {s['brier_base']:.4f} for the base rate "
              f"(skill {'n/a' if s['brier_skill'] is None else format(s['brier_skill'], '.4f')}"
              f"); mean signed return "
              f"{'n/a' if s['mean_signed_return'] is None else format(s['mean_signed_return'], '+.4%')}")
    else:
        print("no call can be graded yet")
    print(f"{s['pending']} pending (their horizon has not closed in the store), "
          f"{s['missing']} missing (target candle not stored), {s['duplicates']} duplicate(s) "
          "counted once")
    if synthetic:
        print(SYNTHETIC_BANNER)
    return 0


def add_parsers(subparsers: Any, common: argparse.ArgumentParser | None = None) -> None:
    """Add the ``analyze`` and ``analyses`` commands to the main parser's subparsers.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``parser.add_subparsers()`` returned.
    common : argparse.ArgumentParser, optional
        The main parser's shared ``--data``/``--json`` parent (made here when omitted).
    """
    if common is None:
        common = argparse.ArgumentParser(add_help=False)
        common.add_argument("--data", metavar="DIR", default=None,
                            help="store root (default: $CANDLEKIT_DATA or ./data)")
        common.add_argument("--json", action="store_true", help="print JSON for machines")
    p = subparsers.add_parser(
        "analyze", parents=[common],
        help="analyse a stored series: facts, narrative, call; recorded in the store",
        description="Analyse the closed candles of a stored series up to --as-of: "
                    "indicators, levels, divergence, multi-timeframe trend, caveats and a "
                    "call, written from candlekit's own numbers (optionally narrated by a "
                    "language model whose numbers are checked). The analysis is recorded "
                    "(`candlekit analyses`).")
    p.add_argument("symbol", metavar="SYMBOL", help="coin as stored: BTC, xyz:NVDA, @107")
    p.add_argument("--interval", "-i", required=True,
                   help="interval, e.g. 4h (resampled from a finer stored one if needed)")
    p.add_argument("--prompt", help='sections to cover, e.g. "levels and divergence"')
    p.add_argument("--as-of", dest="as_of", metavar="TIME",
                   help="use only candles closed by then (default: the last closed candle)")
    p.add_argument("--horizon", type=int, help="bars ahead the call is for")
    p.add_argument("--lookback", type=int,
                   help="closed candles up to --as-of that are used (default 2000)")
    p.add_argument("--source", help="store source label, when several hold the series")
    p.add_argument("--llm", metavar="MODEL",
                   help="narrate with this model of an OpenAI-compatible server (needs the "
                        "llm extra)")
    p.add_argument("--llm-url", metavar="URL",
                   help="the server's base URL, e.g. http://127.0.0.1:11434/v1 (Ollama); "
                        "default $CANDLEKIT_LLM_URL or OpenAI's")
    p.add_argument("--llm-key-env", metavar="VAR",
                   help="environment variable holding the API key (default OPENAI_API_KEY)")
    p.set_defaults(func=cmd_analyze)

    a = subparsers.add_parser("analyses", parents=[common],
                              help="recorded analyses: list, show, grade, delete")
    a.set_defaults(func=cmd_analyses, action=None)
    actions = a.add_subparsers(dest="action", metavar="ACTION")
    leaf = _leaf()
    actions.add_parser("list", parents=[leaf], help="every analysis, newest first")
    actions.add_parser("grade", parents=[leaf],
                       help="grade every recorded call whose horizon has closed in the store")
    for name, text in (("show", "one analysis: narrative, call, model verdict"),
                       ("delete", "delete an analysis' record (never candles)")):
        s = actions.add_parser(name, parents=[leaf], help=text)
        s.add_argument("analysis_id", metavar="ID", help="analysis id, e.g. an-1a2b3c4d")

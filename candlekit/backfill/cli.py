"""``candlekit backfill`` and ``candlekit tasks``: the command line of the backfill.

Wire them into the main parser with :func:`add_parsers`. Every command prints a table (or
JSON with ``--json``); errors propagate as :class:`~candlekit.errors.CandlekitError` for
the main entry point to print on stderr with its exit code.

Examples
--------
::

    candlekit backfill BTC ETH -i 1m -i 1h --start 2026-10-01
    candlekit tasks                      # list, newest first
    candlekit tasks show bf-1a2b3c4d
    candlekit tasks cancel bf-1a2b3c4d   # the running process stops after its page
    candlekit tasks resume bf-1a2b3c4d   # continues from what is stored
    candlekit tasks delete bf-1a2b3c4d   # the record only: candles stay in the store
    candlekit tasks recheck [bf-1a2b3c4d]  # forget recorded absence: asked for again
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import pandas as pd

from ..cli import open_store
from ..errors import CandlekitError, TaskDeletedError, TaskRunningError
from ..provenance import SYNTHETIC_BANNER, is_synthetic
from .api import backfill, resume
from .registry import TaskRegistry, TaskStatus

__all__ = ["add_parsers", "cmd_backfill", "cmd_tasks"]

_LIST_COLUMNS = ("id", "status", "progress_pct", "candles_fetched", "symbol", "interval",
                 "start", "end", "source", "updated_at")
_SERIES_COLUMNS = ("symbol", "interval", "status", "progress_pct", "candles_fetched",
                   "earliest_available", "unavailable", "confirmed_empty")


def _common(*, leaf: bool = False) -> argparse.ArgumentParser:
    """``--data`` and ``--json``; ``leaf``: for sub-actions, which must not reset them."""
    common = argparse.ArgumentParser(add_help=False)
    unset = {"default": argparse.SUPPRESS} if leaf else {}
    common.add_argument("--data", metavar="DIR", **({"default": None} | unset),
                        help="store root (default: $CANDLEKIT_DATA or ./data)")
    common.add_argument("--json", action="store_true", **unset, help="print JSON for machines")
    return common


def _split(values: list[str]) -> list[str]:
    return [v for item in values for v in item.split(",") if v]


def _table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    if not rows:
        return "(none)"
    return pd.DataFrame(rows, columns=list(columns)).to_string(index=False)


def _print_status(st: TaskStatus, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(st.to_dict()))
        return
    if is_synthetic(st.source):
        print(SYNTHETIC_BANNER)
    print(f"task {st.id}: {st.status}, {st.progress_pct:.1f}%, {st.candles_fetched:,} candles, "
          f"{st.requests:,} requests")
    print(f"  {st.symbol} {st.interval} from {st.start} to {st.end or 'now'} "
          f"(source {st.source}{', only gaps' if st.only_gaps else ''})")
    print(f"  created {st.created_at}, updated {st.updated_at}")
    if st.error:
        print(f"  error: {st.error}")
    if st.note:
        print(f"  note: {st.note}")
    print(_table(st.series, _SERIES_COLUMNS))


def _finished(st: TaskStatus, *, as_json: bool) -> int:
    _print_status(st, as_json=as_json)
    if st.status == "completed":
        return 0
    what = ("incomplete (partial): some ranges got only empty answers, see the note"
            if st.status == "partial" else st.status)
    print(f"candlekit: task {st.id} is {what}; `candlekit tasks resume {st.id}` "
          "continues it from what is stored.", file=sys.stderr)
    return 1


def cmd_backfill(args: argparse.Namespace) -> int:
    """Handler of ``candlekit backfill``: run a task in the foreground and print its status."""
    store = open_store(args.data, write=True)  # a new store only where its parent exists
    try:
        task = backfill(args.symbols, _split(args.interval), start=args.start, end=args.end,
                        source=args.source, store=store, base_url=args.base_url,
                        only_gaps=args.only_gaps, progress=not args.json,
                        recheck=args.recheck)
    except (TaskDeletedError, TaskRunningError) as exc:
        print(f"candlekit backfill: {exc}", file=sys.stderr)
        return 1
    except CandlekitError as exc:
        _failed_hint(exc, "backfill")
        raise
    return _finished(task.status(), as_json=args.json)


def _failed_hint(exc: CandlekitError, command: str) -> None:
    task_id = getattr(exc, "backfill_task", None)
    if isinstance(task_id, str) and task_id.startswith("bf-"):
        print(f"candlekit {command}: task {task_id} failed (`candlekit tasks show {task_id}` "
              f"shows it; `candlekit tasks resume {task_id}` retries it).", file=sys.stderr)


def cmd_tasks(args: argparse.Namespace) -> int:
    """Handler of ``candlekit tasks [list|show|cancel|delete|resume]``."""
    store = open_store(args.data, write=False,  # a task exists only in an existing store
                       hint=", so it has no tasks (`candlekit tasks list --data DIR` lists "
                            "those of a store)")
    registry = TaskRegistry(store)
    action = getattr(args, "action", None) or "list"
    if action == "list":
        statuses = registry.statuses()
        rows = [{k: getattr(s, k) for k in _LIST_COLUMNS} for s in statuses]
        if args.json:
            print(json.dumps(rows))
            return 0
        if any(is_synthetic(s.source) for s in statuses):
            print(SYNTHETIC_BANNER)
        print(_table(rows, _LIST_COLUMNS))
        return 0
    if action in ("status", "show"):
        _print_status(registry.status(args.task_id), as_json=args.json)
        return 0
    if action == "cancel":
        st = registry.cancel(args.task_id)
        if args.json:
            print(json.dumps(st.to_dict()))
        elif st.status == "running":
            print(f"cancel requested: task {st.id} (process {st.pid}) stops after its current "
                  "page; what it wrote stays in the store.")
        else:
            print(f"task {st.id} is {st.status}.")
        return 0
    if action == "recheck":
        return _recheck(registry, getattr(args, "task_id", None), as_json=args.json)
    if action == "delete":
        registry.delete(args.task_id)
        if args.json:
            print(json.dumps({"deleted": args.task_id}))
        else:
            print(f"deleted task {args.task_id} (its candles stay in the store at "
                  f"{store.root}).")
        return 0
    # resume
    source = None
    if args.source is not None or args.base_url is not None:
        from ..sources import get_source

        rec = registry.record(args.task_id)
        source = get_source(args.source or rec["source"],
                            base_url=args.base_url or rec["base_url"])
    try:
        task = resume(args.task_id, store=store, source=source, progress=not args.json)
    except (TaskDeletedError, TaskRunningError) as exc:
        print(f"candlekit tasks: {exc}", file=sys.stderr)
        return 1
    except CandlekitError as exc:
        _failed_hint(exc, "tasks")
        raise
    return _finished(task.status(), as_json=args.json)


def _recheck(registry: TaskRegistry, task_id: str | None, *, as_json: bool) -> int:
    """Forget recorded availability (of one task's series, or all): asked for again."""
    if task_id is None:
        n_earliest, n_ranges = registry.clear_availability()
        scope = "every series"
    else:
        rec = registry.record(task_id)
        label = rec.get("label") or rec["source"]
        n_earliest = n_ranges = 0
        for sym in rec["symbols"]:
            for iv in rec["intervals"]:
                a, b = registry.clear_availability(source=label, symbol=sym, interval=iv)
                n_earliest, n_ranges = n_earliest + a, n_ranges + b
        scope = f"the series of task {task_id}"
    if as_json:
        print(json.dumps({"earliest_available": n_earliest, "empty_ranges": n_ranges}))
    else:
        print(f"forgot {n_earliest} earliest-available record(s) and {n_ranges} empty "
              f"range(s) of {scope}: the next backfill asks the upstream for those ranges "
              "again (candles in the store are untouched).")
    return 0


def add_parsers(subparsers: Any) -> None:
    """Add the ``backfill`` and ``tasks`` commands to the main parser's subparsers.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``parser.add_subparsers()`` returned.
    """
    common = _common()
    p = subparsers.add_parser(
        "backfill", parents=[common],
        help="download candles into the store (resumable; see `candlekit tasks`)",
        description="Download candles of every SYMBOL x interval into the store. Every page "
                    "is written as it arrives; an interrupted run resumes from what is "
                    "stored (`candlekit tasks resume ID`, or the same command again).")
    p.add_argument("symbols", nargs="+", metavar="SYMBOL",
                   help="coins as the upstream names them: BTC, xyz:NVDA, @107")
    p.add_argument("-i", "--interval", action="append", required=True, metavar="INTERVAL",
                   help="interval, repeatable or comma-separated: -i 1m -i 1h, -i 1m,1h")
    p.add_argument("--start", required=True, help="first open time, e.g. 2026-10-01")
    p.add_argument("--end", help="end (exclusive); default: up to the server clock")
    p.add_argument("--source", default="hyperliquid",
                   help="hyperliquid (default), hydromancer or emulator")
    p.add_argument("--base-url", help="upstream URL, e.g. the emulator's http://127.0.0.1:8731")
    p.add_argument("--only-gaps", action="store_true",
                   help="fetch only the gaps between the first and last stored candle")
    p.add_argument("--recheck", action="store_true",
                   help="forget what was recorded as not served upstream (start of history, "
                        "empty ranges) for these series and ask for it again")
    p.set_defaults(func=cmd_backfill)

    t = subparsers.add_parser("tasks", parents=[common],
                              help="backfill tasks: list, status, cancel, delete, resume, "
                                   "recheck")
    t.set_defaults(func=cmd_tasks, action=None)
    actions = t.add_subparsers(dest="action", metavar="ACTION")
    leaf = _common(leaf=True)
    actions.add_parser("list", parents=[leaf], help="every task, newest first")
    for name, text in (("status", "one task's status and its series (also: show)"),
                       ("show", "same as status"),
                       ("cancel", "stop a task after its current page"),
                       ("delete", "delete a task's record (never its candles)"),
                       ("resume", "run a task again: what it still lacks")):
        a = actions.add_parser(name, parents=[leaf], help=text)
        a.add_argument("task_id", metavar="ID", help="task id, e.g. bf-1a2b3c4d")
        if name == "resume":
            a.add_argument("--source", default=None, help="override the recorded source")
            a.add_argument("--base-url", default=None, help="override the recorded URL")
    r = actions.add_parser("recheck", parents=[leaf],
                           help="forget what was recorded as not served upstream (of one "
                                "task's series, or of all): the next backfill asks again")
    r.add_argument("task_id", nargs="?", default=None, metavar="ID",
                   help="task id; omitted: every series in the registry")

"""What a finished backfill task left behind: stored candles, upstream limits, gaps.

Three tables for the backfill notebook and the demo, all from the store and the task's
record (no request is made).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pandas as pd

from ..coverage import gap_table
from ..store import Store
from .api import Task
from .registry import TaskStatus

__all__ = ["TaskSummary", "summarize_task"]

_UPSTREAM_COLUMNS = ("symbol", "interval", "status", "candles_fetched", "earliest_available",
                     "unavailable", "confirmed_empty", "note")


@dataclass(frozen=True)
class TaskSummary:
    """The tables of :func:`summarize_task`.

    Attributes
    ----------
    status : TaskStatus
    stored : pandas.DataFrame
        Per series of the task: symbol, interval, source, earliest, latest,
        total_candles, open_candles (the whole stored series, not only this run).
    upstream : pandas.DataFrame
        Per series: where history ends upstream (``earliest_available``), candles not
        requested because of it (``unavailable``), candles the upstream confirmed missing
        inside its history (``confirmed_empty``, an outage) and the task's note.
    gaps : pandas.DataFrame
        Missing candles still in the store within the task's range, largest first
        (``end`` exclusive).
    """

    status: TaskStatus
    stored: pd.DataFrame
    upstream: pd.DataFrame
    gaps: pd.DataFrame


def summarize_task(task: Task | str, *, store: Store | str | os.PathLike[str] | None = None
                   ) -> TaskSummary:
    """Tables of what a backfill task stored, where upstream history ends, and gaps left.

    Parameters
    ----------
    task : Task or str
        A task handle or its id.
    store : Store or path, optional
        The store the task wrote to (needed with an id; default ``$CANDLEKIT_DATA``).

    Returns
    -------
    TaskSummary

    Raises
    ------
    TaskError
        For an unknown task id.
    """
    if not isinstance(store, Store):
        store = Store(store) if store is not None else None
    if isinstance(task, str):
        task = Task.open(task, store=store)
    if store is None:
        store = task.registry.store
    st = task.status()
    symbols, intervals = list(st.symbols), list(st.intervals)
    cov = store.coverage(source=st.source)
    stored = cov[cov["symbol"].isin(symbols) & cov["interval"].isin(intervals)]
    stored = stored[["symbol", "interval", "source", "earliest", "latest", "total_candles",
                     "open_candles"]].reset_index(drop=True)
    rows = [{k: s.get(k) for k in _UPSTREAM_COLUMNS} for s in st.series]
    upstream = pd.DataFrame(rows, columns=list(_UPSTREAM_COLUMNS))
    upstream["earliest_available"] = pd.to_datetime(upstream["earliest_available"], utc=True)
    present = sorted(set(stored["symbol"]))
    if present:
        gaps = gap_table(store, symbols=present, intervals=intervals, sources=[st.source],
                         window=(st.start, st.end))
    else:
        gaps = pd.DataFrame(columns=["symbol", "interval", "source", "start", "end",
                                     "missing_candles", "duration"])
    return TaskSummary(status=st, stored=stored, upstream=upstream, gaps=gaps)

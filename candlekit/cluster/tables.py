"""The coverage and gap tables over many series, one period file per unit.

What a row of either table holds is decided in one place, :mod:`candlekit.coverage`
(:func:`~candlekit.coverage.coverage_table`, :func:`~candlekit.coverage.gap_table`); this
module only supplies the part that reads candles, :class:`UnitScan`, so the tables
on a cluster are the in-process tables by construction. Each range a table reads is cut
at the period files' bounds into units covering the buckets whose open time lies in that
file: ``[lo, hi)`` with ``lo`` the first bucket opening in the period, so a unit never
counts a bucket that opens in the previous file. For the gap table a unit runs
:func:`candlekit.find_gaps` over its own range (gaps at its start and end included) and
the client joins a gap that ends where the next unit's first gap starts, so a gap across
one or many files comes out as one row, exactly as a single scan of the whole span finds
it. For the coverage table a unit counts its candles opening before each point the
table asks about. A unit whose file is known unreadable is not read (it holds nothing);
one found damaged while read reports the file, which the client records as unreadable,
as in process.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .. import coverage
from ..coverage import Window, add_unreadable, gap_arrays
from ..errors import CorruptFileError
from ..frame import empty_frame
from ..gaps import find_gaps
from ..store import Store
from ..timeutil import TimeLike, to_ms
from .progress import check_client, run_units
from .units import Unit, ceil_bucket, periods_between, read_unit

__all__ = ["UnitScan", "coverage_table", "gap_table", "join_gaps", "range_units",
           "span_units"]


def range_units(row: Any, lo: int, hi: int) -> list[Unit]:
    """The units of one series' ``[lo, hi)`` (epoch ms): one per period file overlapping
    it, in time order, each covering the buckets opening in its period.

    ``row`` names the series (``symbol, interval, source, alignment``). Periods without
    a stored file still get a unit (its buckets are all missing).
    """
    out = []
    for o, p_lo, p_hi in periods_between(row.interval, lo, hi):
        u_lo = max(lo, ceil_bucket(p_lo, row.interval, row.alignment))
        u_hi = min(hi, p_hi)
        if u_lo < u_hi:
            out.append(Unit(row.source, row.symbol, row.interval, row.alignment, o, p_lo, p_hi,
                            u_lo, u_hi))
    return out


def span_units(spans: pd.DataFrame) -> list[tuple[int, Unit]]:
    """``(span row, unit)`` for every period file overlapping each span of
    :func:`candlekit.coverage.series_spans`, in time order."""
    return [(r, u) for r, row in enumerate(spans.itertuples(index=False))
            for u in range_units(row, to_ms(row.start), to_ms(row.end))]


# --- units (run on workers) ----------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """A unit, the points its candles are counted against, and whether its file may be
    read (False: it is known unreadable, and holds nothing)."""

    unit: Unit
    points: tuple[int, ...] = ()
    readable: bool = True


Damaged = tuple[Any, str] | None  # (path, reason) of a file found damaged while read


def _read(task: Task, store: Store) -> tuple[pd.DataFrame, Damaged]:
    u = task.unit
    if task.readable:
        try:
            return read_unit(store, u), None
        except CorruptFileError as exc:
            damaged: Damaged = (exc.path, exc.reason)
    else:
        damaged = None
    return empty_frame(symbol=u.symbol, interval=u.interval, alignment=u.alignment,
                       source=u.source), damaged


def count_unit(task: Task, *, store: Store) -> tuple[np.ndarray, Damaged]:
    """How many of the unit's candles open before each of ``task.points``."""
    df, damaged = _read(task, store)
    return np.searchsorted(df.index.asi8, np.asarray(task.points, np.int64)), damaged


def gap_unit(task: Task, *, store: Store
             ) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], Damaged]:
    """Gaps among the buckets opening in ``[unit.lo, unit.hi)``, as
    :func:`candlekit.coverage.gap_arrays`."""
    df, damaged = _read(task, store)
    u = task.unit
    return gap_arrays(find_gaps(df, start=u.lo, end=u.hi, alignment=u.alignment)), damaged


# --- merging (on the client) ---------------------------------------------------------------


def join_gaps(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One series' unit gaps (in time order) with gaps that meet at a unit bound joined."""
    if not parts:
        empty = np.empty(0, np.int64)
        return empty, empty, empty
    s = np.concatenate([p[0] for p in parts]).astype(np.int64)
    e = np.concatenate([p[1] for p in parts]).astype(np.int64)
    m = np.concatenate([p[2] for p in parts]).astype(np.int64)
    if not len(s):
        return s, e, m
    first = np.flatnonzero(np.r_[True, s[1:] != e[:-1]])
    last = np.r_[first[1:], len(s)] - 1
    return s[first], e[last], np.add.reduceat(m, first)


def _readable(unit: Unit, bad: list[dict]) -> bool:
    return not any(b["start"] < unit.period_end and b["end"] > unit.period_start for b in bad)


class UnitScan:
    """:class:`candlekit.coverage.CandleScan` one unit per (series, period file), on a
    Dask cluster or in a loop here.

    Parameters
    ----------
    client : distributed.Client, optional
        Run the units on this cluster; ``None`` loops over them in this process.
    progress : bool, default True
        A ``tqdm.auto`` bar over completed units.
    """

    def __init__(self, client: Any = None, *, progress: bool = True):
        self.client = check_client(client)
        self.progress = progress

    def _run(self, fn: Any, tasks: list[tuple[int, Task]], store: Store, desc: str,
             rows: Sequence[Any], bad: Sequence[list[dict]]) -> dict[int, list[Any]]:
        """Results per series, each in unit (time) order; damaged files recorded."""
        results: dict[int, dict[int, Any]] = {}
        check_client(self.client, store)
        if tasks and self.client is not None:
            from .workers import warm_up

            warm_up(self.client)
        for i, (res, damaged) in run_units(fn, [t for _, t in tasks], client=self.client,
                                           desc=desc, progress=self.progress,
                                           kwargs={"store": store}):
            r = tasks[i][0]
            if damaged is not None:
                add_unreadable(bad[r], rows[r], *damaged)
            results.setdefault(r, {})[i] = res
        return {r: [v[i] for i in sorted(v)] for r, v in results.items()}

    def stored_before(self, store: Store, rows: Sequence[Any],
                      pieces: Sequence[list[tuple[int, int]]], points: Sequence[np.ndarray],
                      bad: Sequence[list[dict]]) -> list[np.ndarray]:
        """See :meth:`candlekit.coverage.CandleScan.stored_before`: summed over units."""
        tasks = [(r, Task(u, tuple(int(p) for p in points[r]), _readable(u, bad[r])))
                 for r, row in enumerate(rows) for lo, hi in pieces[r]
                 for u in range_units(row, lo, hi)]
        found = self._run(count_unit, tasks, store, "coverage", rows, bad)
        return [np.sum(found[r], axis=0, dtype=np.int64) if r in found
                else np.zeros(len(points[r]), np.int64) for r in range(len(rows))]

    def gaps(self, store: Store, rows: Sequence[Any], bad: Sequence[list[dict]]
             ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """See :meth:`candlekit.coverage.CandleScan.gaps`: unit gaps, joined at unit
        bounds."""
        tasks = [(r, Task(u, (), _readable(u, bad[r]))) for r, row in enumerate(rows)
                 for u in range_units(row, to_ms(row.start), to_ms(row.end))]
        found = self._run(gap_unit, tasks, store, "gaps", rows, bad)
        return [join_gaps(found.get(r, [])) for r in range(len(rows))]


# --- the tables ----------------------------------------------------------------------------


def coverage_table(store: Store | str | os.PathLike[str] | None = None, *,
                   symbols: str | Iterable[str] | None = None,
                   intervals: str | Iterable[str] | None = None,
                   sources: str | Iterable[str] | None = None, window: Window = None,
                   now: TimeLike | None = None, client: Any = None,
                   progress: bool = True) -> pd.DataFrame:
    """:func:`candlekit.coverage_table`, with the candles it must count read per unit.

    Parameters
    ----------
    store, symbols, intervals, sources, window, now
        As for :func:`candlekit.coverage_table`.
    client : distributed.Client, optional
        Read the units on this cluster; ``None`` loops over them in this process.
    progress : bool, default True
        A ``tqdm.auto`` bar over completed units.

    Returns
    -------
    pandas.DataFrame
        Exactly what :func:`candlekit.coverage_table` returns for the same arguments
        (the same code builds it). Series whose span holds all their candles come from
        footers on the client, as in process; only windows and requested ranges are read.
    """
    return coverage.coverage_table(store, symbols=symbols, intervals=intervals,
                                   sources=sources, window=window, now=now,
                                   scan=UnitScan(client, progress=progress))


def gap_table(store: Store | str | os.PathLike[str] | None = None, *,
              symbols: str | Iterable[str] | None = None,
              intervals: str | Iterable[str] | None = None,
              sources: str | Iterable[str] | None = None, window: Window = None,
              now: TimeLike | None = None, client: Any = None,
              progress: bool = True) -> pd.DataFrame:
    """:func:`candlekit.gap_table`, one period file per unit, gaps across files joined.

    Parameters
    ----------
    store, symbols, intervals, sources, window, now
        As for :func:`candlekit.gap_table`.
    client : distributed.Client, optional
        Scan the units on this cluster; ``None`` loops over them in this process.
    progress : bool, default True
        A ``tqdm.auto`` bar over completed units.

    Returns
    -------
    pandas.DataFrame
        Exactly what :func:`candlekit.gap_table` returns for the same arguments (the same
        code builds it): gaps with exclusive ends, largest first, after a warning row
        (``status="unreadable"``) per corrupted file.
    """
    return coverage.gap_table(store, symbols=symbols, intervals=intervals, sources=sources,
                              window=window, now=now, scan=UnitScan(client, progress=progress))

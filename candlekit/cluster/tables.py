"""The coverage and gap tables over many series, one period file per unit.

Both start from :func:`candlekit.coverage.series_spans` on the client (parquet footers
only), so they examine exactly the spans the in-process :func:`candlekit.coverage_table`
and :func:`candlekit.gap_table` examine. Each span is cut at the period files' bounds into
units covering the buckets whose open time lies in that file: ``[lo, hi)`` with ``lo`` the
first bucket opening in the period, so a unit never counts a bucket that opens in the
previous file. A unit runs :func:`candlekit.find_gaps` over its own range (gaps at its
start and end included); the client joins a gap that ends where the next unit's first gap
starts, so a gap across one or many files comes out as one row, exactly as a single scan
of the whole span finds it. The coverage table needs rows only where a window does not
hold the whole series (footers answer the rest); its units return their count, open
candles and first and last open time, summed and min/maxed per series.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from ..coverage import (
    GAP_TABLE_COLUMNS,
    Window,
    _coverage_frame,
    _expected,
    _utc_column,
    open_store,
    series_spans,
)
from ..gaps import find_gaps
from ..intervals import bucket_ordinal, ordinal_to_ms, parse_interval
from ..provenance import is_synthetic
from ..store import Store
from ..timeutil import TimeLike, to_ms, to_ms_array
from .progress import check_client, run_units
from .units import Unit, ceil_bucket, periods_between, read_unit

__all__ = ["coverage_table", "gap_table", "span_units"]


def span_units(spans: pd.DataFrame, *, skip_whole: bool = False) -> list[tuple[int, Unit]]:
    """``(span row, unit)`` for every period file overlapping each span, in time order.

    A unit covers the buckets opening in its period, clipped to the span; periods without
    a stored file still get a unit (its buckets are all missing).
    """
    out = []
    for r, row in enumerate(spans.itertuples(index=False)):
        start, end = to_ms(row.start), to_ms(row.end)
        if end <= start or (skip_whole and row.whole_series):
            continue
        for o, p_lo, p_hi in periods_between(row.interval, start, end):
            lo = max(start, ceil_bucket(p_lo, row.interval, row.alignment))
            hi = min(end, p_hi)
            if lo < hi:
                out.append((r, Unit(row.source, row.symbol, row.interval, row.alignment, o,
                                    p_lo, p_hi, lo, hi)))
    return out


# --- units (run on workers) ----------------------------------------------------------------


def exclusive_ends(found: pd.DataFrame, interval: str, alignment: str) -> np.ndarray:
    """End (exclusive, epoch ms) of each gap :func:`find_gaps` reported.

    Works whichever way ``find_gaps`` states its ends (the last missing open time, or the
    exclusive end): the one that agrees with ``missing_candles`` is taken.
    """
    iv = parse_interval(interval)
    s = bucket_ordinal(to_ms_array(found["start"]), iv, alignment=alignment)
    e_ms = to_ms_array(found["end"])
    e = bucket_ordinal(e_ms, iv, alignment=alignment)
    missing = found["missing_candles"].to_numpy(np.int64)
    inclusive = e - s + 1 == missing
    return np.where(inclusive, ordinal_to_ms(e + 1, iv, alignment=alignment), e_ms)


def gap_unit(unit: Unit, *, store: Store) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaps among the buckets opening in ``[unit.lo, unit.hi)``: start, exclusive end (ms),
    missing candles."""
    df = read_unit(store, unit)
    found = find_gaps(df, start=unit.lo, end=unit.hi, alignment=unit.alignment)
    return (to_ms_array(found["start"]), exclusive_ends(found, unit.interval, unit.alignment),
            found["missing_candles"].to_numpy(np.int64))


def count_unit(unit: Unit, *, store: Store) -> tuple[int, int, int | None, int | None]:
    """Candles, open candles, first and last open time (ms) of the unit's range."""
    df = read_unit(store, unit)
    if not len(df):
        return 0, 0, None, None
    t = df.index.asi8
    return len(df), int((~df["closed"].to_numpy(bool)).sum()), int(t[0]), int(t[-1])


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


def _collect(fn: Any, units: list[tuple[int, Unit]], st: Store, client: Any, desc: str,
             progress: bool) -> dict[int, list[Any]]:
    """Results per span row, each row's in unit (time) order."""
    results: dict[int, dict[int, Any]] = {}
    if units and client is not None:
        from .workers import warm_up

        warm_up(client)
    for i, res in run_units(fn, [u for _, u in units], client=client, desc=desc,
                            progress=progress, kwargs={"store": st}):
        results.setdefault(units[i][0], {})[i] = res
    return {r: [v[i] for i in sorted(v)] for r, v in results.items()}


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
        Exactly what :func:`candlekit.coverage_table` returns for the same arguments.
        Series whose span holds all their candles (``window=None``) come from footers on
        the client, as in process; only windowed spans are read.
    """
    st = open_store(store)
    client = check_client(client)
    spans = series_spans(st, symbols=symbols, intervals=intervals, sources=sources,
                         window=window, now=now)
    units = span_units(spans, skip_whole=True)
    counts = _collect(count_unit, units, st, client, "coverage", progress)
    rows = []
    for r, row in enumerate(spans.itertuples(index=False)):
        start_ms, end_ms = to_ms(row.start), to_ms(row.end)
        if row.whole_series:
            total, n_open = int(row.total_candles), int(row.open_candles)
            first, last = row.earliest, row.latest
        else:
            parts = counts.get(r, [])
            total = sum(p[0] for p in parts)
            n_open = sum(p[1] for p in parts)
            firsts = [p[2] for p in parts if p[2] is not None]
            lasts = [p[3] for p in parts if p[3] is not None]
            first = pd.Timestamp(min(firsts), unit="ms", tz="UTC") if firsts else pd.NaT
            last = pd.Timestamp(max(lasts), unit="ms", tz="UTC") if lasts else pd.NaT
        expected = _expected(start_ms, end_ms, row.interval, row.alignment)
        rows.append({
            "symbol": row.symbol, "interval": row.interval, "source": row.source,
            "earliest": first, "latest": last, "total_candles": total,
            "expected_candles": expected,
            "completeness_pct": 100.0 * total / expected if expected else np.nan,
            "missing_candles": expected - total, "open_candles": n_open,
            "synthetic": is_synthetic(row.source), "alignment": row.alignment,
            "start": row.start, "end": row.end,
        })
    return _coverage_frame(rows)


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
        Exactly what :func:`candlekit.gap_table` returns for the same arguments: ``symbol,
        interval, source, start, end`` (exclusive), ``missing_candles``, ``duration``,
        largest first.
    """
    st = open_store(store)
    client = check_client(client)
    spans = series_spans(st, symbols=symbols, intervals=intervals, sources=sources,
                         window=window, now=now)
    units = span_units(spans)
    found = _collect(gap_unit, units, st, client, "gaps", progress)
    parts = []
    for r, row in enumerate(spans.itertuples(index=False)):
        s, e, m = join_gaps(found.get(r, []))
        if not len(s):
            continue
        parts.append(pd.DataFrame({
            "symbol": row.symbol, "interval": row.interval, "source": row.source,
            "start": pd.to_datetime(s, unit="ms", utc=True).as_unit("ms"),
            "end": pd.to_datetime(e, unit="ms", utc=True).as_unit("ms"),
            "missing_candles": m,
        }))
    if not parts:
        out = pd.DataFrame({c: pd.Series(dtype=object) for c in ("symbol", "interval",
                                                                  "source")})
        out["start"] = pd.Series(dtype="datetime64[ms, UTC]")
        out["end"] = pd.Series(dtype="datetime64[ms, UTC]")
        out["missing_candles"] = pd.Series(dtype=np.int64)
        out["duration"] = pd.Series(dtype="timedelta64[ms]")
        return out
    out = pd.concat(parts, ignore_index=True)
    for c in ("start", "end"):
        out[c] = _utc_column(list(out[c]))
    out["duration"] = out["end"] - out["start"]
    out = out.sort_values(["duration", "missing_candles", "symbol", "interval", "start"],
                          ascending=[False, False, True, True, True], kind="stable")
    return out.reset_index(drop=True)[list(GAP_TABLE_COLUMNS)]

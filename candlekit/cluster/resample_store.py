"""Resampling every selected stored series, one period file per unit, on a cluster or not.

Each unit reads one period file of a series and resamples it with
:func:`candlekit.resample`. A target bucket lies wholly inside one file except where it
straddles a file boundary (1d→1w over decade files, 1s→1w or 1s→1M over monthly files,
hyperliquid alignment's Thursday weeks and 30-day months): a unit sends such *edge*
buckets back partial, with whether all their candles were closed, and the client merges
each one with its neighbours' parts (open of the first part, close of the last, max high,
min low, summed volume, trades, quote volume (null when any part's is) and
``constituents``). The result is the single-process ``resample`` of the whole series:
the same buckets, open times, OHLC, counts, closed flags and nulls; sums are equal up to
floating-point summation order (the parts are summed separately, as the resampler itself
does when it splits a large bucket over threads).

Writes go through :meth:`candlekit.Store.write` on the client, one series at a time as
soon as its last unit is in: a straddling bucket is only final after the merge, a worker
write would have to be rewritten, and the client-side write keeps the store's per-series
lock and atomic file replacement the only way candles get in. Resampled frames are at
least the tiling factor smaller than their source, so the transfer is small.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from ..errors import SeriesNotFoundError, StoreError
from ..frame import empty_frame, masked_parts
from ..intervals import Alignment, bucket_ordinal, check_alignment, ordinal_to_ms, parse_interval
from ..provenance import is_synthetic
from ..resample import resample
from ..store import SeriesKey, Store
from ..timeutil import to_index
from .progress import check_client, run_units
from .units import Unit, names, plan_units, read_unit, require_series

__all__ = ["RESAMPLE_SUMMARY_COLUMNS", "merge_edges", "resample_frames", "resample_store"]

RESAMPLE_SUMMARY_COLUMNS = ("symbol", "source", "from_interval", "to_interval", "alignment",
                            "files", "rows_in", "rows_out", "complete_buckets",
                            "buckets_written", "synthetic")


# --- on a worker -------------------------------------------------------------------------


def resample_unit(unit: Unit, *, store: Store, to_interval: str,
                  alignment: str | None) -> dict[str, Any]:
    """Resample one unit: buckets wholly inside its file, plus the partial edge buckets.

    Returns
    -------
    dict
        ``interior`` (final buckets), ``edges`` (the first and/or last bucket when it
        straddles the file's bounds, with an ``all_closed`` column), ``rows_in``, ``attrs``.
    """
    df = read_unit(store, unit)
    out = resample(df, to_interval, alignment=alignment)
    edge_rows: list[int] = []
    all_closed: list[bool] = []
    if len(out):
        iv = parse_interval(to_interval)
        al = out.attrs["alignment"]
        t = out.index.asi8
        first_end, last_end = ordinal_to_ms(
            bucket_ordinal(t[[0, -1]], iv, alignment=al) + 1, iv, alignment=al)
        if t[0] < unit.period_start:
            edge_rows.append(0)
        if last_end > unit.period_end and (len(out) > 1 or not edge_rows):
            edge_rows.append(len(out) - 1)
        if edge_rows:
            fine_t = df.index.asi8
            closed = df["closed"].to_numpy(bool)
            ends = {0: first_end, len(out) - 1: last_end}
            for r in edge_rows:
                i, j = np.searchsorted(fine_t, [t[r], ends[r]])
                all_closed.append(bool(closed[i:j].all()))
    keep = np.ones(len(out), bool)
    keep[edge_rows] = False
    edges = out.iloc[edge_rows].copy()
    edges["all_closed"] = np.asarray(all_closed, bool)
    return {"interior": out[keep], "edges": edges, "rows_in": len(df), "attrs": dict(out.attrs)}


# --- on the client -----------------------------------------------------------------------


def merge_edges(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Combine the partial edge buckets of one series' units into final buckets.

    Parameters
    ----------
    parts : list of pandas.DataFrame
        Each unit's ``edges`` frame, in time order. Parts of one bucket are consecutive.

    Returns
    -------
    pandas.DataFrame
        One row per bucket in :func:`candlekit.resample`'s layout: open of the first part,
        close of the last, max high, min low, sums, ``quote_volume``/``trades`` null when
        any part's is, ``closed`` when every candle was closed and none is missing.
    """
    parts = [p for p in parts if len(p)]
    if not parts:
        return None  # type: ignore[return-value]
    e = pd.concat(parts)
    t = e.index.asi8
    starts = np.flatnonzero(np.r_[True, t[1:] != t[:-1]])
    ends = np.r_[starts[1:], len(t)]
    if np.any(np.diff(t[starts]) <= 0):
        raise StoreError("Edge buckets of a series came back out of order: the store changed "
                         "while resampling. Run it again.")
    f64 = lambda c: e[c].to_numpy(np.float64)
    q, q_null = masked_parts(e["quote_volume"])
    n, n_null = masked_parts(e["trades"])
    q = np.where(np.asarray(q_null, bool), 0.0, np.asarray(q, np.float64))
    n = np.where(np.asarray(n_null, bool), 0, np.asarray(n, np.int64))
    counts = np.add.reduceat(e["constituents"].to_numpy(np.int64), starts)
    expected = e["expected_constituents"].to_numpy(np.int64)[starts]
    all_closed = np.logical_and.reduceat(e["all_closed"].to_numpy(bool), starts)
    out = pd.DataFrame({
        "open": f64("open")[starts],
        "high": np.maximum.reduceat(f64("high"), starts),
        "low": np.minimum.reduceat(f64("low"), starts),
        "close": f64("close")[ends - 1],
        "volume": np.add.reduceat(f64("volume"), starts),
        "quote_volume": pd.arrays.FloatingArray(
            np.add.reduceat(q, starts), np.logical_or.reduceat(np.asarray(q_null, bool), starts)),
        "trades": pd.arrays.IntegerArray(
            np.add.reduceat(n, starts), np.logical_or.reduceat(np.asarray(n_null, bool), starts)),
        "closed": all_closed & (counts == expected),
        "constituents": counts,
        "expected_constituents": expected,
    }, index=to_index(t[starts]))
    return out


def _finish(interior: list[pd.DataFrame], edges: dict[int, pd.DataFrame],
            attrs: dict[str, Any]) -> pd.DataFrame:
    merged = merge_edges([edges[p] for p in sorted(edges)])
    frames = [f for f in interior if len(f)]
    if merged is not None:
        frames.append(merged)
    if not frames:
        out = interior[0].iloc[:0] if interior else pd.DataFrame()
    else:
        out = pd.concat(frames).sort_index(kind="stable") if len(frames) > 1 else frames[0]
    if not out.index.is_unique:
        raise StoreError("A bucket came back from two units: the store changed while "
                         "resampling. Run it again.")
    out.attrs = dict(attrs)
    return out


def _plan(store: Store, from_interval: str, to_interval: str, symbols: Any,
          alignment: str | None, source: str | None) -> list[Unit]:
    fine = parse_interval(from_interval).name
    parse_interval(to_interval)
    if alignment is not None:
        check_alignment(alignment)
    syms = names(symbols, "symbols")
    units = plan_units(store, intervals=fine, symbols=syms, sources=source)
    if syms is not None:
        absent = sorted(set(syms) - {u.symbol for u in units})
        if absent:
            raise SeriesNotFoundError(
                f"No {fine} candles of {', '.join(absent)}"
                + (f" from {source!r}" if source else "") + f" in the store at {store.root}. "
                "Backfill them first, or leave them out of symbols=.", absent)
    require_series(units, store, f"interval {fine!r}" + (f", source {source!r}" if source else ""))
    for al in sorted({u.alignment for u in units}):  # refuse a tiling that cannot work, early
        resample(empty_frame(symbol="check", interval=fine, alignment=al, source="check"),
                 to_interval, alignment=alignment)
    return units


def _check_targets(store: Store, units: list[Unit], to_interval: str,
                   alignment: str | None) -> None:
    """Refuse before any work when a target series is stored under another alignment."""
    coarse = parse_interval(to_interval)
    if not coarse.depends_on_alignment():
        return
    stored = store.coverage(interval=coarse.name)
    held = {(r.source, r.symbol): r.alignment for r in stored.itertuples(index=False)}
    for u in units:
        want = alignment or u.alignment
        have = held.get((u.source, u.symbol))
        if have is not None and have != want:
            raise StoreError(
                f"{u.symbol} {coarse.name} ({u.source}) is stored with {have!r} alignment; "
                f"resampling to {want!r} alignment would mix buckets that start at different "
                f"times. Pass alignment={have!r}, or write=False.")


def _iter_series(store: Store, units: list[Unit], to_interval: str, alignment: str | None,
                 client: Any, progress: bool
                 ) -> Iterator[tuple[SeriesKey, pd.DataFrame, int, int]]:
    """``(key, resampled frame, rows read, files)`` per series, as each series completes."""
    if client is not None:
        from .workers import warm_up

        warm_up(client)
    files = Counter(u.key for u in units)
    remaining = files.copy()
    acc: dict[SeriesKey, dict[str, Any]] = {}
    desc = f"resample {units[0].interval}→{parse_interval(to_interval).name}"
    for i, res in run_units(resample_unit, units, client=client, desc=desc, progress=progress,
                            kwargs={"store": store, "to_interval": to_interval,
                                    "alignment": alignment}):
        u = units[i]
        a = acc.setdefault(u.key, {"interior": [], "edges": {}, "rows_in": 0, "attrs": None})
        a["interior"].append(res["interior"])
        a["edges"][u.period] = res["edges"]
        a["rows_in"] += res["rows_in"]
        a["attrs"] = res["attrs"]
        remaining[u.key] -= 1
        if remaining[u.key] == 0:
            done = acc.pop(u.key)
            yield u.key, _finish(done["interior"], done["edges"], done["attrs"]), \
                done["rows_in"], files[u.key]


def resample_frames(store: Store, from_interval: str, to_interval: str, *,
                    symbols: str | Iterable[str] | None = None,
                    alignment: Alignment | None = None, client: Any = None,
                    source: str | None = None, progress: bool = True
                    ) -> dict[SeriesKey, pd.DataFrame]:
    """Resample every selected stored series and return the frames (nothing is written).

    Parameters are those of :func:`resample_store`.

    Returns
    -------
    dict
        :class:`~candlekit.SeriesKey` of the source series to its resampled frame, as
        :func:`candlekit.resample` returns it (with ``constituents`` and
        ``expected_constituents``).
    """
    store = _store(store)
    client = check_client(client, store)
    units = _plan(store, from_interval, to_interval, symbols, alignment, source)
    return {key: frame for key, frame, _, _ in
            _iter_series(store, units, to_interval, alignment, client, progress)}


def resample_store(store: Store, from_interval: str, to_interval: str, *,
                   symbols: str | Iterable[str] | None = None,
                   alignment: Alignment | None = None, client: Any = None,
                   write: bool = True, source: str | None = None,
                   progress: bool = True) -> pd.DataFrame:
    """Resample every selected stored series, one period file per unit, and store the result.

    Parameters
    ----------
    store : Store or path
        The store (a path or ``None`` opens :class:`~candlekit.Store` there).
    from_interval, to_interval : str
        Source and target interval; the source buckets must tile the target's.
    symbols : str or list of str, optional
        Only these coins (default: every symbol stored at ``from_interval``).
    alignment : {"calendar", "hyperliquid"}, optional
        Alignment of the target buckets (1w, 1M, 3d); default: each source series' own.
    client : distributed.Client, optional
        Run the units on this Dask cluster (``client.map``). ``None`` runs them in this
        process, in a loop over the same units.
    write : bool, default True
        Upsert each resampled series into the store (same source, the target interval),
        on the client, as soon as its last unit is in. ``False`` only reports.
    source : str, optional
        Only series of this source.
    progress : bool, default True
        A ``tqdm.auto`` bar over completed units (and the dashboard link, if any).

    Returns
    -------
    pandas.DataFrame
        One row per series: ``symbol, source, from_interval, to_interval, alignment,
        files`` (units), ``rows_in``, ``rows_out`` (buckets), ``complete_buckets`` (every
        constituent present), ``buckets_written`` (inserted or replaced; 0 without
        ``write``), ``synthetic``.

    Raises
    ------
    SeriesNotFoundError
        When nothing (or not every named symbol) is stored at ``from_interval``.
    ResampleError
        When ``from_interval`` does not tile ``to_interval``; before any work.
    StoreError
        When a target series is stored under another alignment; before any work.
    FormatError
        When ``client`` is not a connected :class:`distributed.Client`.

    Examples
    --------
    >>> ck.resample_store(store, "1s", "1m", client=client)          # doctest: +SKIP
    >>> ck.resample_store(store, "1d", "1w", alignment="hyperliquid")  # doctest: +SKIP
    """
    store = _store(store)
    client = check_client(client, store)
    units = _plan(store, from_interval, to_interval, symbols, alignment, source)
    if write:
        _check_targets(store, units, to_interval, alignment)
    rows = []
    for key, frame, rows_in, files in _iter_series(store, units, to_interval, alignment,
                                                    client, progress):
        written = 0
        if write and len(frame):
            stats = store.write(frame)
            written = stats.inserted + stats.replaced
        complete = int((frame["constituents"] == frame["expected_constituents"]).sum()) \
            if len(frame) else 0
        rows.append({"symbol": key.symbol, "source": key.source,
                     "from_interval": key.interval, "to_interval": frame.attrs["interval"],
                     "alignment": frame.attrs["alignment"], "files": files,
                     "rows_in": rows_in, "rows_out": len(frame), "complete_buckets": complete,
                     "buckets_written": written, "synthetic": is_synthetic(key.source)})
    out = pd.DataFrame(rows, columns=list(RESAMPLE_SUMMARY_COLUMNS))
    for c in ("files", "rows_in", "rows_out", "complete_buckets", "buckets_written"):
        out[c] = out[c].astype(np.int64)
    out["synthetic"] = out["synthetic"].astype(bool)
    return out.sort_values(["source", "symbol"], kind="stable").reset_index(drop=True)


def _store(store: Any) -> Store:
    from ..coverage import open_store

    return open_store(store)

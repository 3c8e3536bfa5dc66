"""Coverage of the store: what each series holds, how complete it is, and where it has holes.

:func:`coverage_table` gives one row per stored series (symbol, interval, source) with its
whole stored span (first and last candle, how many it holds: the seed's ``earliest,
latest, total_candles``) and, beside it, the completeness over a span (the window, see
below), and over what backfill tasks asked for: a series whose requested range starts
before the upstream's retention shows the candles that were unavailable upstream, not
100%. :func:`gap_table` lists every run of missing candles, largest first, each a
``[start, end)`` range. A corrupted store file does not stop either: the other series
are reported, the file is named once (in the series' ``note``, and as an
``"unreadable"`` row of the gap table) and its period counts as unreadable, not as
missing candles. Both look at the same span per series:

``window=None``
    From the series' first to its last stored candle (from parquet footers only: nothing
    is read). With ``now``, from the first candle up to ``now``, so that a series that
    stopped updating shows the candles it lacks since.
``window="7d"`` (any duration :class:`pandas.Timedelta` reads)
    The latest window: ``[end - 7d, end)`` where ``end`` is ``now`` when given, else just
    after the most recent candle among the selected series. A series that stopped earlier
    than the others therefore shows its missing tail.
``window=(start, end)``
    That range, ``end`` exclusive (either may be ``None``: the series' first candle, and
    ``now`` or the latest candle).

The first bucket of a span is the one holding its start (a window's first bucket may
begin a little before the window), and the last is the one holding ``end - 1 ms``.

What a row of either table holds is decided here only. Reading candles is the one
pluggable part, a :class:`CandleScan`: :class:`InProcessScan` reads each series here;
with ``client=`` :mod:`candlekit.cluster` counts and finds gaps one period file per unit
on a Dask cluster, and the rows are built by the same code.
"""

from __future__ import annotations

import datetime as _dt
import html
import os
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from .errors import CorruptFileError, FormatError, InvalidTimeError
from .frame import empty_frame
from .gaps import find_gaps
from .intervals import INTERVALS, count_buckets, floor_time, next_bucket, parse_interval
from .provenance import is_synthetic, synthetic_sources
from .store import SeriesKey, Store
from .store.layout import period_bounds_ms, period_from_dirname, period_kind
from .timeutil import TimeLike, to_ms, to_ms_array, to_timestamp

__all__ = [
    "COVERAGE_TABLE_COLUMNS",
    "GAP_TABLE_COLUMNS",
    "CandleScan",
    "InProcessScan",
    "Window",
    "add_unreadable",
    "coverage_summary_html",
    "coverage_table",
    "format_coverage",
    "gap_arrays",
    "gap_table",
    "open_store",
    "series_spans",
    "unreadable_files",
]

COVERAGE_TABLE_COLUMNS = ("symbol", "interval", "source", "earliest", "latest", "total_candles",
                          "open_candles", "start", "end", "window_candles",
                          "expected_candles", "completeness_pct", "missing_candles",
                          "unreadable_candles", "requested_start", "requested_end",
                          "requested_candles", "requested_stored", "unavailable_upstream",
                          "requested_pct", "synthetic", "alignment", "note")
GAP_TABLE_COLUMNS = ("symbol", "interval", "source", "start", "end", "missing_candles",
                     "duration", "status", "note")
SPAN_COLUMNS = ("symbol", "interval", "source", "alignment", "start", "end", "whole_series")

#: What a report window may be: a duration ("30d", a Timedelta) or a (start, end) pair.
Window = str | pd.Timedelta | _dt.timedelta | tuple[TimeLike | None, TimeLike | None] | None

FILL_HINT = ("Fill it with <code>make demo</code> (an offline, synthetic market) or "
             "<code>candlekit backfill ...</code> (real Hyperliquid candles; see "
             "<code>candlekit backfill --help</code>), or point <code>data_dir</code> / "
             "<code>$CANDLEKIT_DATA</code> at an existing store.")


def open_store(store: Store | str | os.PathLike[str] | None = None) -> Store:
    """A :class:`~candlekit.Store` from a store, a directory, or ``None`` (the default root).

    Parameters
    ----------
    store : Store, str, os.PathLike or None
        ``None`` means ``$CANDLEKIT_DATA``, else ``./data``.

    Returns
    -------
    Store

    Raises
    ------
    FormatError
        For anything else.
    """
    if isinstance(store, Store):
        return store
    if store is None or isinstance(store, (str, os.PathLike)):
        return Store(store)
    raise FormatError(f"Expected a candlekit.Store or a store directory, got "
                      f"{type(store).__name__}: pass Store(path), a path, or None for "
                      "$CANDLEKIT_DATA.", store)


# --- selection and spans -------------------------------------------------------------------


def _names(value: str | Iterable[str] | None, what: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    try:
        names = list(value)
    except TypeError:
        names = [value]
    bad = [v for v in names if not isinstance(v, str) or not v]
    if bad:
        raise FormatError(f"{what} must be a name or a list of names such as ['BTC', 'ETH'], "
                          f"got {bad[0]!r}.", value)
    return names


@dataclass(frozen=True)
class _Span:
    """How a window resolves: a duration back from the end, or explicit bounds."""

    duration_ms: int | None
    start_ms: int | None
    end_ms: int | None


def _parse_window(window: Window) -> _Span | None:
    if window is None:
        return None
    if isinstance(window, (tuple, list)):
        if len(window) != 2:
            raise InvalidTimeError(f"A window pair must be (start, end), got {window!r}.",
                                   window)
        start, end = window
        s = to_ms(start) if start is not None else None
        e = to_ms(end) if end is not None else None
        if s is not None and e is not None and e <= s:
            raise InvalidTimeError(
                f"Window end ({to_timestamp(e)}) must be after its start ({to_timestamp(s)}): "
                "swap them or widen the window.", window)
        return _Span(None, s, e)
    duration = _duration(window)
    if duration is pd.NaT or pd.isna(duration) or duration <= pd.Timedelta(0):
        raise InvalidTimeError(
            f"Invalid window {window!r}: pass a positive duration such as '7d', '12h' or "
            "'4w' (months are ambiguous: use days), a (start, end) pair of times, or None "
            "for each series' whole span.", window)
    return _Span(int(duration / pd.Timedelta(milliseconds=1)), None, None)


_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def _duration(window: Any) -> pd.Timedelta:
    """A window length: ``"7d"`` in the interval vocabulary (s, m, h, d, w), else anything
    :class:`pandas.Timedelta` reads; NaT when unreadable or a month ("M" varies in length)."""
    if isinstance(window, str):
        text = window.strip()
        match = re.fullmatch(r"([+-]?\d+)\s*([smhdw])", text)
        if match:
            return pd.Timedelta(milliseconds=int(match[1]) * _UNIT_MS[match[2]])
        if text.endswith("M"):
            return pd.NaT
    try:
        return pd.Timedelta(window)
    except (ValueError, TypeError):
        return pd.NaT


def unreadable_files(store: Store | str | os.PathLike[str] | None = None, *,
                     symbols: str | Iterable[str] | None = None,
                     intervals: str | Iterable[str] | None = None,
                     sources: str | Iterable[str] | None = None) -> pd.DataFrame:
    """Store files whose footer cannot be read, per series (no rows are read).

    Parameters
    ----------
    store : Store, path or None
        The store (``None``: ``$CANDLEKIT_DATA`` or ``./data``).
    symbols, intervals, sources : str or list of str, optional
        Only these series.

    Returns
    -------
    pandas.DataFrame
        ``symbol, interval, source``, ``start`` and ``end`` (the ``[start, end)`` period
        the file holds), ``path`` and ``reason``. A file whose footer is fine but whose
        rows are damaged is found only when its rows are read (:func:`gap_table`, or a
        windowed :func:`coverage_table`).
    """
    st = open_store(store)
    ivs = _names(intervals, "intervals")
    ivs = None if ivs is None else [parse_interval(i).name for i in ivs]
    rows = [_bad_row(key, path, reason)
            for key in _keys(st, _names(symbols, "symbols"), ivs, _names(sources, "sources"))
            for path, reason in _footer_problems(st, key)]
    return _bad_frame(rows)


_BAD_COLUMNS = ("symbol", "interval", "source", "start", "end", "path", "reason")


def _bad_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=list(_BAD_COLUMNS))
    for c in ("start", "end"):
        df[c] = pd.to_datetime(np.asarray(df[c], dtype=np.int64), unit="ms", utc=True
                               ).as_unit("ms")
    return df


def _bad_row(key: SeriesKey, path: Path, reason: str) -> dict[str, Any]:
    kind = period_kind(key.interval)
    ordinal = period_from_dirname(Path(path).parent.name, kind)
    lo, hi = period_bounds_ms(ordinal, kind) if ordinal is not None else (0, 0)
    return {"symbol": key.symbol, "interval": key.interval, "source": key.source,
            "start": lo, "end": hi, "path": str(path), "reason": reason}


def _keys(store: Store, symbols: list[str] | None, intervals: list[str] | None,
          sources: list[str] | None) -> list[SeriesKey]:
    return [k for k in store.series()
            if (symbols is None or k.symbol in symbols)
            and (intervals is None or k.interval in intervals)
            and (sources is None or k.source in sources)]


def _footer_problems(store: Store, key: SeriesKey) -> list[tuple[Path | str, str]]:
    return store.file_problems(key.symbol, key.interval, source=key.source)


def _selected(store: Store, symbols: list[str] | None, intervals: list[str] | None,
              sources: list[str] | None) -> tuple[pd.DataFrame, dict[tuple, list[dict]]]:
    """Store.coverage() of the selection (corrupted files skipped silently: they are
    returned apart, by series, and named in the tables), plus series whose every file is
    unreadable."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="coverage\\(\\) skipped a file",
                                category=RuntimeWarning)
        cov = store.coverage()
    keep = np.ones(len(cov), dtype=bool)
    if symbols is not None:
        keep &= cov["symbol"].isin(symbols).to_numpy()
    if intervals is not None:
        keep &= cov["interval"].isin(intervals).to_numpy()
    if sources is not None:
        keep &= cov["source"].isin(sources).to_numpy()
    cov = cov[keep].copy()
    bad: dict[tuple, list[dict]] = {}
    for key in _keys(store, symbols, intervals, sources):
        for path, reason in _footer_problems(store, key):
            bad.setdefault((key.symbol, key.interval, key.source), []).append(
                _bad_row(key, path, reason))
    held = set(zip(cov["symbol"], cov["interval"], cov["source"]))
    lost = [k for k in bad if k not in held]  # nothing readable at all
    if lost:
        extra = pd.DataFrame({
            "symbol": [k[0] for k in lost], "interval": [k[1] for k in lost],
            "source": [k[2] for k in lost], "alignment": "calendar",
            "earliest": pd.Series([pd.NaT] * len(lost), dtype="datetime64[ms, UTC]"),
            "latest": pd.Series([pd.NaT] * len(lost), dtype="datetime64[ms, UTC]"),
            "total_candles": 0, "open_candles": 0,
            "files": [len(bad[k]) for k in lost], "bytes": 0})
        cov = pd.concat([cov, extra[cov.columns]], ignore_index=True) if len(cov) else extra
    order = cov["interval"].map(INTERVALS.index)
    cov = (cov.assign(_order=order).sort_values(["symbol", "_order", "source"], kind="stable")
           .drop(columns="_order").reset_index(drop=True))
    return cov, bad


def series_spans(store: Store | str | os.PathLike[str] | None = None, *,
                 symbols: str | Iterable[str] | None = None,
                 intervals: str | Iterable[str] | None = None,
                 sources: str | Iterable[str] | None = None, window: Window = None,
                 now: TimeLike | None = None) -> pd.DataFrame:
    """The span each report function examines, per selected series.

    Parameters
    ----------
    store : Store, path or None
        The store (``None``: ``$CANDLEKIT_DATA`` or ``./data``).
    symbols, intervals, sources : str or list of str, optional
        Only these series (default: every stored one).
    window : str, Timedelta or (start, end), optional
        See the module docstring: ``None`` (each series' whole span), a duration back
        from the end (``"30d"``) or explicit bounds.
    now : time, optional
        End of the spans (default: just after the most recent selected candle).

    Returns
    -------
    pandas.DataFrame
        Store.coverage's columns plus ``start`` (open time of the first expected bucket),
        ``end`` (exclusive) and ``whole_series`` (True when the span holds every stored
        candle and no file is unreadable, so footer statistics suffice). Sorted by
        symbol, interval, source. A series whose every file is unreadable has no
        earliest/latest; its span without a window is the periods of those files.

    Raises
    ------
    InvalidTimeError
        For a window or ``now`` that cannot be read.
    InvalidIntervalError
        For an unknown interval in ``intervals``.
    """
    return _spans(open_store(store), symbols, intervals, sources, window, now)[0]


def _spans(st: Store, symbols: Any, intervals: Any, sources: Any, window: Window,
           now: TimeLike | None) -> tuple[pd.DataFrame, dict[tuple, list[dict]]]:
    ivs = _names(intervals, "intervals")
    ivs = None if ivs is None else [parse_interval(i).name for i in ivs]
    cov, bad = _selected(st, _names(symbols, "symbols"), ivs, _names(sources, "sources"))
    span = _parse_window(window)
    now_ms = to_ms(now) if now is not None else None
    held = cov[cov["total_candles"] > 0]
    default_end = now_ms if now_ms is not None else _latest_end(held)
    starts, ends, whole = [], [], []
    for row in cov.itertuples(index=False):
        stored = row.total_candles > 0
        first = to_ms(row.earliest) if stored else None
        last = to_ms(row.latest) if stored else None
        bad_here = bad.get((row.symbol, row.interval, row.source), [])
        if span is None:
            if stored:
                s = first
                e = now_ms if now_ms is not None else _bucket_end(last, row)
            else:  # every file unreadable: the periods they hold
                s = min(b["start"] for b in bad_here)
                e = now_ms if now_ms is not None else max(b["end"] for b in bad_here)
        elif span.duration_ms is not None:
            e = default_end
            s = e - span.duration_ms
        else:
            s = span.start_ms if span.start_ms is not None else (
                first if stored else min(b["start"] for b in bad_here))
            e = span.end_ms if span.end_ms is not None else default_end
        s = to_ms(floor_time(s, row.interval, alignment=row.alignment))
        e = _bucket_end(e - 1, row) if e > s else s  # the end of the last bucket expected
        starts.append(s)
        ends.append(e)
        whole.append(stored and not bad_here and s <= first and e > last)
    out = cov.copy()
    out["start"] = pd.to_datetime(np.asarray(starts, np.int64), unit="ms", utc=True).as_unit("ms")
    out["end"] = pd.to_datetime(np.asarray(ends, np.int64), unit="ms", utc=True).as_unit("ms")
    out["whole_series"] = np.asarray(whole, dtype=bool)
    return out, bad


def _bucket_end(t_ms: int, row: Any) -> int:
    """Exclusive end of the bucket holding ``t_ms``."""
    return to_ms(next_bucket(t_ms, row.interval, alignment=row.alignment))


def _latest_end(cov: pd.DataFrame) -> int:
    """End of the most recent candle, in buckets of the finest selected interval."""
    if not len(cov):
        return 0
    finest = cov.iloc[int(np.argmin([parse_interval(i).nominal_ms for i in cov["interval"]]))]
    return _bucket_end(to_ms(cov["latest"].max()), finest)


def _expected(start_ms: int, end_ms: int, interval: str, alignment: str) -> int:
    if end_ms <= start_ms:
        return 0
    return count_buckets(start_ms, end_ms, interval, alignment=alignment)


def _read_span(store: Store, row: Any, bad: list[dict], start_ms: int | None = None,
               end_ms: int | None = None) -> pd.DataFrame:
    """The series' candles in ``[start, end)`` (the row's span by default), skipping the
    periods of unreadable files. A file found damaged while reading is added to ``bad``
    (once) and skipped too."""
    attrs = {"symbol": row.symbol, "interval": row.interval, "alignment": row.alignment,
             "source": row.source}
    lo = to_ms(row.start) if start_ms is None else start_ms
    hi = to_ms(row.end) if end_ms is None else end_ms
    if start_ms is None and row.whole_series:
        lo = hi = None
    elif hi <= lo:
        return empty_frame(**attrs)
    while True:
        pieces, at = [], lo
        try:
            for b in sorted(bad, key=lambda b: b["start"]):
                if (hi is not None and b["start"] >= hi) or (at is not None and b["end"] <= at):
                    continue
                if at is None or b["start"] > at:
                    pieces.append(store.read(row.symbol, row.interval, at, b["start"],
                                             source=row.source))
                at = b["end"] if at is None else max(at, b["end"])
            if hi is None or at is None or at < hi:
                pieces.append(store.read(row.symbol, row.interval, at, hi, source=row.source))
        except CorruptFileError as exc:
            if not add_unreadable(bad, row, exc.path, exc.reason):
                raise
            continue
        break
    pieces = [p for p in pieces if len(p)]
    if not pieces:
        return empty_frame(**attrs)
    out = pieces[0] if len(pieces) == 1 else pd.concat(pieces)
    out.attrs = dict(pieces[0].attrs)
    return out


def add_unreadable(bad: list[dict], row: Any, path: Any, reason: str) -> bool:
    """Record a file of ``row``'s series found damaged while reading its candles.

    Its period then counts as unreadable (neither stored nor missing), as for a file
    whose footer cannot be read.

    Parameters
    ----------
    bad : list of dict
        The series' unreadable files (``start``, ``end``, ``path``, ``reason``, ...);
        updated in place and kept in time order.
    row : namedtuple
        The series' row of :func:`series_spans` (``symbol``, ``interval``, ``source``).
    path : path
        The damaged file.
    reason : str
        Why it cannot be read.

    Returns
    -------
    bool
        True when recorded, False when ``bad`` already names the file.

    Raises
    ------
    CorruptFileError
        When ``path`` is not a period file of the store (nothing to skip).
    """
    found = _bad_row(SeriesKey(row.source, row.symbol, row.interval), path, reason)
    if any(b["path"] == found["path"] for b in bad):
        return False
    if found["end"] <= found["start"]:
        raise CorruptFileError(path, reason)
    bad.append(found)
    bad.sort(key=lambda b: (b["start"], b["path"]))
    return True


def gap_arrays(found: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`~candlekit.find_gaps`' answer as ``(start, end, missing_candles)`` arrays
    (epoch ms, ``end`` exclusive)."""
    return (to_ms_array(found["start"]), to_ms_array(found["end"]),
            found["missing_candles"].to_numpy(np.int64))


def _unreadable_count(bad: list[dict], start_ms: int, end_ms: int, row: Any) -> int:
    """Buckets of ``[start, end)`` inside the periods of unreadable files."""
    total = 0
    for b in bad:
        lo, hi = max(b["start"], start_ms), min(b["end"], end_ms)
        total += _expected(lo, hi, row.interval, row.alignment)
    return total


def _note(bad: list[dict]) -> str:
    if not bad:
        return ""
    files = "; ".join(f"{b['path']} ({b['reason']})" for b in bad)
    return (f"UNREADABLE: {len(bad)} corrupted file(s), their candles neither counted nor "
            f"read: {files}. Move the file away and backfill its period again.")


# --- what was asked for, and what the upstream no longer has ---------------------------------


@dataclass
class _Requested:
    ranges: list[tuple[int, int | None]]
    earliest_available: int | None


def _requests(store: Store) -> dict[tuple[str, str, str], _Requested]:
    """Ranges backfill tasks asked for, per (symbol, interval, source), and the earliest
    time the upstream still serves; read through the task registry (nothing is written
    there). Empty when the store has no registry or it cannot be read."""
    from .backfill.registry import TaskRegistry
    from .errors import CandlekitError

    registry = TaskRegistry(store)
    out: dict[tuple[str, str, str], _Requested] = {}
    try:
        statuses = registry.statuses()
        for st in statuses:
            start = to_ms(st.start)
            end = to_ms(st.end) if st.end else None
            for sym in st.symbols:
                for iv in st.intervals:
                    key = (sym, parse_interval(iv).name, st.source)
                    out.setdefault(key, _Requested([], None)).ranges.append((start, end))
        for key, req in out.items():
            req.earliest_available = registry.availability(key[2], key[0], key[1])[0]
    except (CandlekitError, OSError):
        return {}
    return out


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[list[int]] = []
    for a, b in sorted(r for r in ranges if r[1] > r[0]):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged]


def _request_plan(row: Any, req: _Requested | None
                  ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The ranges tasks asked for (merged, from the first bucket asked for), and their
    parts before the earliest time the upstream still serves."""
    if req is None:
        return [], []
    tail = (_bucket_end(to_ms(row.latest), row) if row.total_candles
            else max(a for a, _ in req.ranges))
    asked = _merge([(to_ms(floor_time(a, row.interval, alignment=row.alignment)),
                     b if b is not None else tail) for a, b in req.ranges])
    ea = req.earliest_available
    gone = [(a, min(ea, b)) for a, b in asked if ea is not None and ea > a]
    return asked, gone


def _request_columns(row: Any, asked: list[tuple[int, int]], gone: list[tuple[int, int]],
                     stored: Any) -> dict[str, Any]:
    """requested_start/end, requested_candles, requested_stored, unavailable_upstream,
    with ``stored(a, b)`` the stored candles opening in ``[a, b)``."""
    if not asked:
        return {"requested_start": pd.NaT, "requested_end": pd.NaT, "requested_candles": 0,
                "requested_stored": 0, "unavailable_upstream": 0, "requested_pct": np.nan}
    n = sum(_expected(a, b, row.interval, row.alignment) for a, b in asked)
    held = sum(stored(a, b) for a, b in asked)
    unavailable = sum(_expected(a, c, row.interval, row.alignment) - stored(a, c)
                      for a, c in gone)
    return {"requested_start": asked[0][0], "requested_end": asked[-1][1],
            "requested_candles": n, "requested_stored": held,
            "unavailable_upstream": unavailable,
            "requested_pct": 100.0 * held / n if n else np.nan}


# --- how candles are counted and gaps found: the pluggable part --------------------------


class CandleScan(Protocol):
    """How the tables count a series' stored candles and find its gaps.

    :class:`InProcessScan` reads each series here; :class:`candlekit.cluster.tables.UnitScan`
    runs one unit per (series, period file) on a Dask cluster. Everything else about a
    table row (spans, unreadable files, requests, the columns) is
    :func:`coverage_table` and :func:`gap_table`, whatever the scan (their ``scan=``).

    Both methods take, per series, its row of :func:`series_spans` and its list of
    unreadable files: periods to skip, to which a file found damaged while reading is
    added with :func:`add_unreadable` (its candles then count for nothing).
    """

    def stored_before(self, store: Store, rows: Sequence[Any],
                      pieces: Sequence[list[tuple[int, int]]], points: Sequence[np.ndarray],
                      bad: Sequence[list[dict]]) -> list[np.ndarray]:
        """Per series, how many candles opening inside its ``pieces`` (disjoint
        ``[lo, hi)`` ranges, epoch ms, in order; nothing else is read) open before each
        of its ``points``."""
        ...

    def gaps(self, store: Store, rows: Sequence[Any], bad: Sequence[list[dict]]
             ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per series, :func:`~candlekit.find_gaps` over its span ``[start, end)`` as
        :func:`gap_arrays`, the periods of unreadable files read as holding nothing."""
        ...


class InProcessScan:
    """:class:`CandleScan` in this process: each series' ranges read with
    :meth:`Store.read`, skipping the periods of unreadable files."""

    def stored_before(self, store: Store, rows: Sequence[Any],
                      pieces: Sequence[list[tuple[int, int]]], points: Sequence[np.ndarray],
                      bad: Sequence[list[dict]]) -> list[np.ndarray]:
        """See :meth:`CandleScan.stored_before`."""
        out = []
        for row, ranges, at, bad_here in zip(rows, pieces, points, bad, strict=True):
            t = [_read_span(store, row, bad_here, lo, hi).index.asi8 for lo, hi in ranges]
            held = np.concatenate(t) if t else np.empty(0, np.int64)
            out.append(np.searchsorted(held, at).astype(np.int64))
        return out

    def gaps(self, store: Store, rows: Sequence[Any], bad: Sequence[list[dict]]
             ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """See :meth:`CandleScan.gaps`."""
        return [gap_arrays(find_gaps(_read_span(store, row, bad_here), start=row.start,
                                     end=row.end, alignment=row.alignment))
                for row, bad_here in zip(rows, bad, strict=True)]


def _scan(client: Any, scan: CandleScan | None) -> CandleScan:
    """The scan a table runs: ``scan``, else on ``client`` one unit per period file
    (:mod:`candlekit.cluster`, which needs dask), else :class:`InProcessScan`."""
    if scan is not None and client is not None:
        raise FormatError("Pass client= (run on that Dask cluster) or scan= (your own "
                          "CandleScan), not both.", scan)
    if scan is not None:
        return scan
    if client is None:
        return InProcessScan()
    from .cluster.tables import UnitScan

    return UnitScan(client)


# --- the tables ----------------------------------------------------------------------------


def coverage_table(store: Store | str | os.PathLike[str] | None = None, *,
                   symbols: str | Iterable[str] | None = None,
                   intervals: str | Iterable[str] | None = None,
                   sources: str | Iterable[str] | None = None, window: Window = None,
                   now: TimeLike | None = None, client: Any = None,
                   scan: CandleScan | None = None) -> pd.DataFrame:
    """What each stored series holds, and how complete it is over a window and over what
    backfill tasks asked for.

    Parameters
    ----------
    store : Store, path or None
        The store (``None``: ``$CANDLEKIT_DATA`` or ``./data``).
    symbols, intervals, sources : str or list of str, optional
        Only these series (default: every stored one).
    window : str, Timedelta or (start, end), optional
        The span completeness is measured over. ``None`` (default): from each series'
        first to its last candle, from parquet footers only. ``"7d"``: the latest seven
        days (ending at ``now``, or just after the most recent selected candle).
        ``(start, end)``: that range, ``end`` exclusive.
    now : time, optional
        End of the spans. Without a window, spans run from the first candle to ``now``.
    client : distributed.Client, optional
        Count on this Dask cluster, one period file per unit
        (:func:`candlekit.cluster.coverage_table`); the same table.
    scan : CandleScan, optional
        How candles are counted (instead of ``client``): :class:`InProcessScan` by
        default, :class:`candlekit.cluster.tables.UnitScan` with ``client``. The
        table's rows are built here whatever the scan.

    Returns
    -------
    pandas.DataFrame
        One row per series, sorted by symbol, interval, source.

        The whole stored series, whatever the window (the seed's coverage fields):
        ``symbol``, ``interval``, ``source``, ``earliest`` and ``latest`` (open times of
        its first and last stored candle; NaT when none is readable), ``total_candles``,
        ``open_candles`` (not yet closed).

        Beside it, the window: ``start`` (first expected bucket) and ``end``
        (exclusive), ``window_candles`` (stored in it), ``expected_candles`` (buckets in
        it), ``completeness_pct`` (100 * window_candles / expected; NaN for an empty
        span), ``missing_candles`` (expected, neither stored nor unreadable) and
        ``unreadable_candles`` (buckets in the periods of corrupted files: not counted as
        missing, and not as stored).

        What backfill tasks asked for (from the task registry; NaT/0/NaN when no task
        asked for the series): ``requested_start``, ``requested_end`` (their union's
        bounds; a task without an end counts up to the latest stored candle),
        ``requested_candles`` (buckets asked for), ``requested_stored`` (of those, how
        many are stored), ``unavailable_upstream`` (of those, not stored and before the
        earliest time the upstream still serves: gone from the upstream before they were
        fetched) and ``requested_pct`` (100 * stored / requested). A backfill from before
        the upstream's retention therefore shows less than 100% here even when the
        window is complete.

        Then ``synthetic`` (bool), ``alignment`` and ``note`` (names unreadable files;
        empty otherwise). Empty (with these columns) when nothing matches.

    Raises
    ------
    InvalidTimeError
        For an unreadable window or ``now``.
    InvalidIntervalError
        For an unknown interval in ``intervals``.
    FormatError
        For a ``client`` that is not a ``distributed.Client``, or both ``client`` and
        ``scan``.

    Examples
    --------
    >>> cov = coverage_table("data", window="30d")                  # doctest: +SKIP
    >>> cov[cov.completeness_pct < 100][["symbol", "interval", "missing_candles"]]  # doctest: +SKIP
    """
    scan = _scan(client, scan)
    st = open_store(store)
    spans, bad = _spans(st, symbols, intervals, sources, window, now)
    requests = _requests(st) if len(spans) else {}
    rows = list(spans.itertuples(index=False))
    bads = [bad.setdefault((r.symbol, r.interval, r.source), []) for r in rows]
    plans, pieces, points = [], [], []
    for row in rows:
        span = [] if row.whole_series else [(to_ms(row.start), to_ms(row.end))]
        asked, gone = _request_plan(row, requests.get((row.symbol, row.interval, row.source)))
        plans.append((asked, gone))
        pieces.append(_merge(span + asked))
        points.append(np.unique(np.asarray([x for r in span + asked + gone for x in r],
                                           np.int64)))
    below = scan.stored_before(st, rows, pieces, points, bads) if rows else []
    out = []
    for row, (asked, gone), at, n_below, bad_here in zip(rows, plans, points, below, bads,
                                                         strict=True):
        def stored(a: int, b: int, at: np.ndarray = at, n_below: np.ndarray = n_below) -> int:
            i, j = np.searchsorted(at, [a, b])
            return int(n_below[j] - n_below[i])

        start_ms, end_ms = to_ms(row.start), to_ms(row.end)
        in_window = (int(row.total_candles) if row.whole_series
                     else stored(start_ms, end_ms) if end_ms > start_ms else 0)
        expected = _expected(start_ms, end_ms, row.interval, row.alignment)
        unreadable = _unreadable_count(bad_here, start_ms, end_ms, row)
        out.append({
            "symbol": row.symbol, "interval": row.interval, "source": row.source,
            "earliest": row.earliest, "latest": row.latest,
            "total_candles": int(row.total_candles), "open_candles": int(row.open_candles),
            "start": row.start, "end": row.end, "window_candles": in_window,
            "expected_candles": expected,
            "completeness_pct": 100.0 * in_window / expected if expected else np.nan,
            "missing_candles": max(expected - in_window - unreadable, 0),
            "unreadable_candles": unreadable,
            **_request_columns(row, asked, gone, stored),
            "synthetic": is_synthetic(row.source), "alignment": row.alignment,
            "note": _note(bad_here),
        })
    return _coverage_frame(out)


def _utc_column(values: list[Any]) -> pd.Series:
    return pd.Series(pd.to_datetime(pd.Series(values, dtype=object), utc=True)).astype(
        "datetime64[ms, UTC]")


def _coverage_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=list(COVERAGE_TABLE_COLUMNS))
    for c in ("earliest", "latest", "start", "end", "requested_start", "requested_end"):
        df[c] = _utc_column([v if not isinstance(v, (int, np.integer)) else
                             pd.Timestamp(int(v), unit="ms", tz="UTC") for v in df[c]])
    for c in ("total_candles", "open_candles", "window_candles", "expected_candles",
              "missing_candles", "unreadable_candles", "requested_candles",
              "requested_stored", "unavailable_upstream"):
        df[c] = df[c].astype(np.int64)
    for c in ("completeness_pct", "requested_pct"):
        df[c] = df[c].astype(np.float64)
    df["synthetic"] = df["synthetic"].astype(bool)
    df["note"] = df["note"].astype(object)
    return df


def gap_table(store: Store | str | os.PathLike[str] | None = None, *,
              symbols: str | Iterable[str] | None = None,
              intervals: str | Iterable[str] | None = None,
              sources: str | Iterable[str] | None = None, window: Window = None,
              now: TimeLike | None = None, client: Any = None,
              scan: CandleScan | None = None) -> pd.DataFrame:
    """Every run of missing candles in the selected series, largest first, and a warning
    row for each unreadable (corrupted) file.

    Looks at the same spans as :func:`coverage_table` (same arguments), so each series'
    ``missing_candles`` here add up to its ``missing_candles`` there.

    Parameters
    ----------
    store : Store, path or None
        The store (``None``: ``$CANDLEKIT_DATA`` or ``./data``).
    symbols, intervals, sources : str or list of str, optional
        Only these series.
    window : str, Timedelta or (start, end), optional
        As for :func:`coverage_table`.
    now : time, optional
        As for :func:`coverage_table`.
    client : distributed.Client, optional
        Scan on this Dask cluster, one period file per unit, gaps across files joined
        (:func:`candlekit.cluster.gap_table`); the same table.
    scan : CandleScan, optional
        How gaps are found (instead of ``client``): :class:`InProcessScan` by default,
        :class:`candlekit.cluster.tables.UnitScan` with ``client``. The table's rows
        are built here whatever the scan.

    Returns
    -------
    pandas.DataFrame
        ``symbol, interval, source``, ``start`` (open time of the first missing candle),
        ``end`` (EXCLUSIVE: open time of the next stored bucket, or the span's end),
        ``missing_candles``, ``duration`` (``end - start``), ``status`` and ``note``.
        ``status`` is ``"missing"`` for a gap, or ``"unreadable"`` for the period of a
        corrupted file (``missing_candles`` 0: its candles may well be there; ``note``
        names the file once, and what to do). Unreadable rows come first, then gaps
        sorted by duration then missing candles, largest first. The other series are
        reported as usual.

    Raises
    ------
    InvalidTimeError
        For an unreadable window or ``now``.
    FormatError
        For a ``client`` that is not a ``distributed.Client``, or both ``client`` and
        ``scan``.

    Examples
    --------
    >>> gap_table("data", symbols="ETH", window="30d").head()       # doctest: +SKIP
    """
    scan = _scan(client, scan)
    st = open_store(store)
    spans, bad = _spans(st, symbols, intervals, sources, window, now)
    rows = list(spans.itertuples(index=False))
    bads = [bad.setdefault((r.symbol, r.interval, r.source), []) for r in rows]
    todo = [i for i, row in enumerate(rows) if row.end > row.start]
    found = dict(zip(todo, scan.gaps(st, [rows[i] for i in todo], [bads[i] for i in todo])
                     if todo else [], strict=True))
    parts, warn_rows = [], []
    for i, (row, bad_here) in enumerate(zip(rows, bads, strict=True)):
        if i in found:
            s, e, m = _outside(*found[i], bad_here, row)
            if len(s):
                parts.append(pd.DataFrame({
                    "symbol": row.symbol, "interval": row.interval, "source": row.source,
                    "start": s, "end": e, "missing_candles": m, "status": "missing",
                    "note": ""}))
        s_ms, e_ms = to_ms(row.start), to_ms(row.end)
        for b in bad_here:
            lo, hi = b["start"], b["end"]
            if lo < e_ms and hi > s_ms:  # show the part inside the span
                lo, hi = max(lo, s_ms), min(hi, e_ms)
            warn_rows.append({"symbol": row.symbol, "interval": row.interval,
                              "source": row.source, "start": lo, "end": hi,
                              "missing_candles": 0, "status": "unreadable",
                              "note": f"UNREADABLE: corrupted file {b['path']} "
                                      f"({b['reason']}); its period is not counted as "
                                      "missing. Move the file away and backfill this "
                                      "period again."})
    gaps = pd.concat(parts, ignore_index=True) if parts else _empty_gaps()
    gaps = gaps.assign(_length=gaps["end"] - gaps["start"]).sort_values(
        ["_length", "missing_candles", "symbol", "interval", "start"],
        ascending=[False, False, True, True, True], kind="stable").drop(columns="_length")
    out = (pd.concat([pd.DataFrame(warn_rows, columns=gaps.columns), gaps], ignore_index=True)
           if warn_rows else gaps.reset_index(drop=True))
    for c in ("start", "end"):
        out[c] = pd.to_datetime(out[c].to_numpy(np.int64), unit="ms", utc=True).as_unit("ms")
    out["duration"] = out["end"] - out["start"]
    out["missing_candles"] = out["missing_candles"].astype(np.int64)
    for c in ("symbol", "interval", "source", "status", "note"):
        out[c] = out[c].astype(object)
    return out[list(GAP_TABLE_COLUMNS)]


def _empty_gaps() -> pd.DataFrame:
    out = pd.DataFrame({c: pd.Series(dtype=object) for c in ("symbol", "interval", "source")})
    for c in ("start", "end", "missing_candles"):
        out[c] = pd.Series(dtype=np.int64)
    out["status"] = pd.Series(dtype=object)
    out["note"] = pd.Series(dtype=object)
    return out


def _outside(starts: np.ndarray, ends: np.ndarray, missing: np.ndarray, bad: list[dict],
             row: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaps (epoch ms, ends exclusive) minus the periods of unreadable files (those are
    not missing candles)."""
    if not bad or not len(starts):
        return starts, ends, missing
    out_s, out_e = [], []
    holes = sorted((b["start"], b["end"]) for b in bad)
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        at = s
        for lo, hi in holes:
            if hi <= at or lo >= e:
                continue
            if lo > at:
                out_s.append(at)
                out_e.append(lo)
            at = max(at, hi)
        if at < e:
            out_s.append(at)
            out_e.append(e)
    counts = [_expected(s, e, row.interval, row.alignment) for s, e in zip(out_s, out_e)]
    keep = [i for i, n in enumerate(counts) if n > 0]
    return (np.asarray([out_s[i] for i in keep], np.int64),
            np.asarray([out_e[i] for i in keep], np.int64),
            np.asarray([counts[i] for i in keep], np.int64))


# --- presentation --------------------------------------------------------------------------


def format_coverage(coverage: pd.DataFrame) -> pd.DataFrame:
    """The coverage table with readable headings, for display in a notebook or terminal.

    Completeness is floored to two decimals so that an incomplete series never shows as
    100. The requested columns appear when a backfill task asked for any shown series,
    ``note`` when a file is unreadable.

    Parameters
    ----------
    coverage : pandas.DataFrame
        From :func:`coverage_table`.

    Returns
    -------
    pandas.DataFrame
        ``symbol, interval, source``; the whole stored series: ``earliest, latest, total
        candles, open candles``; the window: ``window from, window to, candles in
        window, expected candles, missing candles, completeness %`` (and ``unreadable
        candles`` when a file is unreadable); what tasks
        asked for: ``requested, stored of requested, unavailable upstream, requested
        %``; ``synthetic``; ``note``.
    """
    missing = [c for c in COVERAGE_TABLE_COLUMNS if c not in coverage.columns]
    if missing:
        raise FormatError(f"Not a coverage table: missing columns {missing}. Build it with "
                          "candlekit.coverage.coverage_table(store).", missing)

    def floor2(col: str) -> np.ndarray:
        return np.floor(coverage[col].to_numpy(np.float64) * 100.0) / 100.0

    out = pd.DataFrame({
        "symbol": coverage["symbol"], "interval": coverage["interval"],
        "source": coverage["source"], "earliest": coverage["earliest"],
        "latest": coverage["latest"], "total candles": coverage["total_candles"],
        "open candles": coverage["open_candles"],
        "window from": coverage["start"], "window to": coverage["end"],
        "candles in window": coverage["window_candles"],
        "expected candles": coverage["expected_candles"],
        "missing candles": coverage["missing_candles"],
        "completeness %": floor2("completeness_pct"),
    })
    if (coverage["unreadable_candles"] > 0).any() or (coverage["note"] != "").any():
        out["unreadable candles"] = coverage["unreadable_candles"]
    if (coverage["requested_candles"] > 0).any():
        out["requested"] = coverage["requested_candles"]
        out["stored of requested"] = coverage["requested_stored"]
        out["unavailable upstream"] = coverage["unavailable_upstream"]
        out["requested %"] = floor2("requested_pct")
    out["synthetic"] = coverage["synthetic"]
    if (coverage["note"] != "").any():
        out["note"] = coverage["note"]
    return out


def coverage_summary_html(store: Store | str | os.PathLike[str] | None,
                          coverage: pd.DataFrame) -> str:
    """A short HTML paragraph saying what the report covers, or how to fill an empty store.

    Parameters
    ----------
    store : Store, path or None
        The store the coverage table was built from.
    coverage : pandas.DataFrame
        From :func:`coverage_table`.

    Returns
    -------
    str
        HTML for ``IPython.display.HTML``: the store's path, how many series, candles and
        missing candles are shown and which are synthetic; for an empty store, how to fill
        it; for a selection that matches nothing, what the store does hold.
    """
    st = open_store(store)
    root = html.escape(str(st.root))
    if not len(coverage):
        held = st.series()
        if not held:
            return (f'<div class="candlekit-empty"><b>The store at <code>{root}</code> is '
                    f"empty</b>: there is nothing to report yet. {FILL_HINT}</div>")
        listing = ", ".join(html.escape(f"{k.symbol} {k.interval} ({k.source})")
                            for k in held[:30])
        more = f" and {len(held) - 30} more" if len(held) > 30 else ""
        return (f'<div class="candlekit-empty"><b>No stored series match the selection</b> '
                f"(symbols / intervals / sources) in <code>{root}</code>. It holds: "
                f"{listing}{more}. Change the parameters, or backfill the series you "
                "want.</div>")
    n_syn = int(coverage["synthetic"].sum())
    syn = (f", {n_syn} of them synthetic ({html.escape(', '.join(synthetic_sources(coverage)))})"
           if n_syn else "")
    spans = (f"from {coverage['start'].min():%Y-%m-%d %H:%M} to "
             f"{coverage['end'].max():%Y-%m-%d %H:%M}")
    incomplete = int((coverage["missing_candles"] > 0).sum())
    unreadable = [n for n in coverage["note"] if n]
    warn = (f' <b class="candlekit-warning">{len(unreadable)} series have unreadable '
            f"files</b> (named in the table's note).") if unreadable else ""
    short = coverage[(coverage["requested_candles"] > 0)
                     & (coverage["unavailable_upstream"] > 0)]
    upstream = (f" {len(short)} series asked for history the upstream no longer serves: "
                f"{int(short['unavailable_upstream'].sum()):,} candle(s) unavailable "
                "upstream (see the requested columns).") if len(short) else ""
    return (f'<div class="candlekit-summary">Store <code>{root}</code>: '
            f"{len(coverage)} series{syn}, {int(coverage['total_candles'].sum()):,} candles "
            f"stored; {int(coverage['window_candles'].sum()):,} in the spans shown "
            f"{spans} UTC; {incomplete} series miss "
            f"{int(coverage['missing_candles'].sum()):,} candle(s) there.{upstream}"
            f"{warn}</div>")

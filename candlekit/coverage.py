"""Coverage of the store: what each series holds, how complete it is, and where it has holes.

:func:`coverage_table` gives one row per stored series (symbol, interval, source) with its
first and last candle, how many candles it holds, how many the span between them (or a
window) should hold, and the completeness; :func:`gap_table` lists every run of missing
candles, largest first. Both look at the same span per series:

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
"""

from __future__ import annotations

import datetime as _dt
import html
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .errors import FormatError, InvalidTimeError
from .frame import empty_frame
from .gaps import find_gaps
from .intervals import INTERVALS, count_buckets, floor_time, next_bucket, parse_interval
from .provenance import is_synthetic, synthetic_sources
from .store import Store
from .timeutil import TimeLike, to_ms, to_timestamp

__all__ = [
    "COVERAGE_TABLE_COLUMNS",
    "GAP_TABLE_COLUMNS",
    "Window",
    "coverage_summary_html",
    "coverage_table",
    "format_coverage",
    "gap_table",
    "open_store",
    "series_spans",
]

COVERAGE_TABLE_COLUMNS = ("symbol", "interval", "source", "earliest", "latest", "total_candles",
                          "expected_candles", "completeness_pct", "missing_candles",
                          "open_candles", "synthetic", "alignment", "start", "end")
GAP_TABLE_COLUMNS = ("symbol", "interval", "source", "start", "end", "missing_candles",
                     "duration")
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


def _selected(store: Store, symbols: list[str] | None, intervals: list[str] | None,
              sources: list[str] | None) -> pd.DataFrame:
    cov = store.coverage()
    keep = np.ones(len(cov), dtype=bool)
    if symbols is not None:
        keep &= cov["symbol"].isin(symbols).to_numpy()
    if intervals is not None:
        keep &= cov["interval"].isin(intervals).to_numpy()
    if sources is not None:
        keep &= cov["source"].isin(sources).to_numpy()
    cov = cov[keep].copy()
    order = cov["interval"].map(INTERVALS.index)
    return (cov.assign(_order=order).sort_values(["symbol", "_order", "source"], kind="stable")
            .drop(columns="_order").reset_index(drop=True))


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
        candle, so footer statistics suffice). Sorted by symbol, interval, source.

    Raises
    ------
    InvalidTimeError
        For a window or ``now`` that cannot be read.
    InvalidIntervalError
        For an unknown interval in ``intervals``.
    """
    st = open_store(store)
    ivs = _names(intervals, "intervals")
    ivs = None if ivs is None else [parse_interval(i).name for i in ivs]
    cov = _selected(st, _names(symbols, "symbols"), ivs, _names(sources, "sources"))
    span = _parse_window(window)
    now_ms = to_ms(now) if now is not None else None
    earliest = cov["earliest"].array.asi8 if len(cov) else np.empty(0, np.int64)
    latest = cov["latest"].array.asi8 if len(cov) else np.empty(0, np.int64)
    default_end = now_ms if now_ms is not None else _latest_end(cov)
    starts, ends, whole = [], [], []
    for i, row in enumerate(cov.itertuples(index=False)):
        if span is None:
            s = int(earliest[i])
            e = now_ms if now_ms is not None else _bucket_end(int(latest[i]), row)
        elif span.duration_ms is not None:
            e = default_end
            s = e - span.duration_ms
        else:
            s = span.start_ms if span.start_ms is not None else int(earliest[i])
            e = span.end_ms if span.end_ms is not None else default_end
        s = to_ms(floor_time(s, row.interval, alignment=row.alignment))
        e = _bucket_end(e - 1, row) if e > s else s  # the end of the last bucket expected
        starts.append(s)
        ends.append(e)
        whole.append(s <= earliest[i] and e > latest[i])
    out = cov.copy()
    out["start"] = pd.to_datetime(np.asarray(starts, np.int64), unit="ms", utc=True).as_unit("ms")
    out["end"] = pd.to_datetime(np.asarray(ends, np.int64), unit="ms", utc=True).as_unit("ms")
    out["whole_series"] = np.asarray(whole, dtype=bool)
    return out


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


def _read_span(store: Store, row: Any) -> pd.DataFrame:
    if row.whole_series:
        return store.read(row.symbol, row.interval, source=row.source)
    if row.end <= row.start:
        return empty_frame(symbol=row.symbol, interval=row.interval, alignment=row.alignment,
                           source=row.source)
    return store.read(row.symbol, row.interval, row.start, row.end, source=row.source)


# --- the tables ----------------------------------------------------------------------------


def coverage_table(store: Store | str | os.PathLike[str] | None = None, *,
                   symbols: str | Iterable[str] | None = None,
                   intervals: str | Iterable[str] | None = None,
                   sources: str | Iterable[str] | None = None, window: Window = None,
                   now: TimeLike | None = None, client: Any = None) -> pd.DataFrame:
    """How complete each stored series is, over its whole span or the latest window.

    Parameters
    ----------
    store : Store, path or None
        The store (``None``: ``$CANDLEKIT_DATA`` or ``./data``).
    symbols, intervals, sources : str or list of str, optional
        Only these series (default: every stored one).
    window : str, Timedelta or (start, end), optional
        ``None`` (default): from each series' first to its last candle, from parquet
        footers only. ``"7d"``: the latest seven days (ending at ``now``, or just after the
        most recent selected candle). ``(start, end)``: that range, ``end`` exclusive.
    now : time, optional
        End of the spans. Without a window, spans run from the first candle to ``now``.
    client : distributed.Client, optional
        Count on this Dask cluster, one period file per unit
        (:func:`candlekit.cluster.coverage_table`); the same table.

    Returns
    -------
    pandas.DataFrame
        One row per series, sorted by symbol, interval, source: ``symbol``, ``interval``,
        ``source``, ``earliest`` and ``latest`` (open times of the first and last stored
        candle in the span; NaT when none), ``total_candles`` (stored in the span),
        ``expected_candles`` (buckets in the span), ``completeness_pct`` (100 * stored /
        expected; NaN for an empty span), ``missing_candles``, ``open_candles`` (not yet
        closed), ``synthetic`` (bool), ``alignment``, and the span itself: ``start``
        (first expected bucket) and ``end`` (exclusive). Empty (with these columns) when
        nothing matches.

    Raises
    ------
    InvalidTimeError
        For an unreadable window or ``now``.
    InvalidIntervalError
        For an unknown interval in ``intervals``.

    Examples
    --------
    >>> cov = coverage_table("data", window="30d")                  # doctest: +SKIP
    >>> cov[cov.completeness_pct < 100][["symbol", "interval", "missing_candles"]]  # doctest: +SKIP
    """
    if client is not None:  # the same table, one period file per unit on a Dask cluster
        from .cluster import tables
        return tables.coverage_table(store, symbols=symbols, intervals=intervals, sources=sources,
                                     window=window, now=now, client=client)
    st = open_store(store)
    spans = series_spans(st, symbols=symbols, intervals=intervals, sources=sources,
                         window=window, now=now)
    rows = []
    for row in spans.itertuples(index=False):
        start_ms, end_ms = to_ms(row.start), to_ms(row.end)
        if row.whole_series:
            total, n_open = int(row.total_candles), int(row.open_candles)
            first, last = row.earliest, row.latest
        else:
            df = _read_span(st, row)
            total, n_open = len(df), int((~df["closed"].to_numpy()).sum())
            first = df.index[0] if total else pd.NaT
            last = df.index[-1] if total else pd.NaT
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


def _utc_column(values: list[Any]) -> pd.Series:
    return pd.Series(pd.to_datetime(pd.Series(values, dtype=object), utc=True)).astype(
        "datetime64[ms, UTC]")


def _coverage_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=list(COVERAGE_TABLE_COLUMNS))
    for c in ("earliest", "latest", "start", "end"):
        df[c] = _utc_column(list(df[c]))
    for c in ("total_candles", "expected_candles", "missing_candles", "open_candles"):
        df[c] = df[c].astype(np.int64)
    df["completeness_pct"] = df["completeness_pct"].astype(np.float64)
    df["synthetic"] = df["synthetic"].astype(bool)
    return df


def gap_table(store: Store | str | os.PathLike[str] | None = None, *,
              symbols: str | Iterable[str] | None = None,
              intervals: str | Iterable[str] | None = None,
              sources: str | Iterable[str] | None = None, window: Window = None,
              now: TimeLike | None = None, client: Any = None) -> pd.DataFrame:
    """Every run of missing candles in the selected series, largest first.

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

    Returns
    -------
    pandas.DataFrame
        ``symbol, interval, source``, ``start`` (open time of the first missing candle),
        ``end`` (EXCLUSIVE: open time of the next stored bucket), ``missing_candles`` and
        ``duration`` (``end - start``), sorted by duration then missing candles, largest
        first.

    Raises
    ------
    InvalidTimeError
        For an unreadable window or ``now``.

    Examples
    --------
    >>> gap_table("data", symbols="ETH", window="30d").head()       # doctest: +SKIP
    """
    if client is not None:  # the same table, one period file per unit on a Dask cluster
        from .cluster import tables
        return tables.gap_table(store, symbols=symbols, intervals=intervals, sources=sources,
                                window=window, now=now, client=client)
    st = open_store(store)
    spans = series_spans(st, symbols=symbols, intervals=intervals, sources=sources,
                         window=window, now=now)
    parts = []
    for row in spans.itertuples(index=False):
        if row.end <= row.start:
            continue
        df = _read_span(st, row)
        found = find_gaps(df, start=row.start, end=row.end, alignment=row.alignment)
        if not len(found):
            continue
        end = next_bucket(found["end"], row.interval, alignment=row.alignment)
        parts.append(pd.DataFrame({
            "symbol": row.symbol, "interval": row.interval, "source": row.source,
            "start": found["start"].to_numpy(), "end": np.asarray(end),
            "missing_candles": found["missing_candles"].to_numpy(np.int64),
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


# --- presentation --------------------------------------------------------------------------


def format_coverage(coverage: pd.DataFrame) -> pd.DataFrame:
    """The coverage table with readable headings, for display in a notebook.

    Completeness is floored to two decimals so that an incomplete series never shows as
    100.

    Parameters
    ----------
    coverage : pandas.DataFrame
        From :func:`coverage_table`.

    Returns
    -------
    pandas.DataFrame
        Columns ``symbol, interval, source, earliest, latest, total candles, expected
        candles, missing candles, completeness %, open candles, synthetic``.
    """
    missing = [c for c in COVERAGE_TABLE_COLUMNS[:11] if c not in coverage.columns]
    if missing:
        raise FormatError(f"Not a coverage table: missing columns {missing}. Build it with "
                          "candlekit.coverage.coverage_table(store).", missing)
    pct = np.floor(coverage["completeness_pct"].to_numpy(np.float64) * 100.0) / 100.0
    return pd.DataFrame({
        "symbol": coverage["symbol"], "interval": coverage["interval"],
        "source": coverage["source"], "earliest": coverage["earliest"],
        "latest": coverage["latest"], "total candles": coverage["total_candles"],
        "expected candles": coverage["expected_candles"],
        "missing candles": coverage["missing_candles"], "completeness %": pct,
        "open candles": coverage["open_candles"], "synthetic": coverage["synthetic"],
    })


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
    return (f'<div class="candlekit-summary">Store <code>{root}</code>: '
            f"{len(coverage)} series{syn}, {int(coverage['total_candles'].sum()):,} candles "
            f"shown {spans} UTC; {incomplete} series miss "
            f"{int(coverage['missing_candles'].sum()):,} candle(s).</div>")

"""Data-quality findings: candles that are invalid, still open, or look wrong.

:func:`quality_findings` audits one canonical frame and returns one row per finding;
:func:`store_findings` does the same for every selected series of a store, over the spans
:func:`candlekit.coverage.coverage_table` uses. Missing candles are not findings here:
:func:`candlekit.coverage.gap_table` lists them.

Kinds of finding
----------------
``invalid``
    A row that breaks a candle invariant (:func:`candlekit.schema.find_invalid`); one
    finding per failed check.
``open``
    A candle not yet closed (``closed == False``): the latest candle while it forms, or,
    worse, an open candle followed by later ones, which should have closed since.
``jump``
    A close-to-close log return beyond ``jump_sigma`` robust sigmas.
``open_gap``
    An open away from the previous close by more than ``jump_sigma`` robust sigmas (crypto
    trades around the clock, so a candle opens where the previous one closed, give or take
    a tick; a jump here means stitched or shifted data).
``zero_volume``
    At least ``zero_volume_run`` consecutive candles with no volume.
``flat``
    At least ``flat_run`` consecutive candles with the very same open, high, low and close,
    some with volume (a feed repeating a stale candle); runs with no volume at all are
    reported as ``zero_volume`` only.
``unreadable``
    (:func:`store_findings` only) A corrupted store file, named once, at the start of the
    period it holds; that period is skipped and the rest of the series audited.

The robust sigma
----------------
Volatility clusters: a whole-series scale would flag every busy hour and miss a bad tick in
a quiet night. Each return is therefore measured against a *local* robust scale, the larger
of (a) ``1.4826 * MAD`` of the returns in a centred window of ``window`` candles and (b) the
Parkinson scale ``ln(high / low) / (2 sqrt(ln 2))`` of the neighbouring candles (the median
of the ``neighbours`` candles on each side, the busier side, excluding the candle itself).
Returns are taken between candles that traded (a no-trade candle carries no price) and
divided by the square root of the buckets they span, so a move across a quiet stretch or a
hole is not mistaken for a jump. The whole series' MAD fills in where the local scales are
undefined. On the seeded synthetic market, at the default 8 sigmas, this flags about one
hourly candle in 10,000 (hours are the hardest case: the market's volatility clusters with a
one-hour memory, so an extreme hour stands out from its neighbours, as a news hour does) and
fewer at other intervals; planted jumps of a few percent stand at hundreds of sigmas.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from .coverage import Window, _read_span, _spans, open_store
from .errors import FormatError
from .frame import frame_alignment, frame_interval
from .intervals import INTERVALS, bucket_ordinal
from .schema import find_invalid
from .store import Store
from .timeutil import TimeLike

__all__ = ["FINDING_COLUMNS", "FINDING_KINDS", "quality_findings", "store_findings",
           "summarize_findings"]

FINDING_COLUMNS = ("time", "kind", "detail", "value")
FINDING_KINDS = ("invalid", "open", "jump", "open_gap", "zero_volume", "flat", "unreadable")
_MAD_TO_SIGMA = 1.4826
_PARKINSON = 2.0 * np.sqrt(np.log(2.0))


def quality_findings(df: pd.DataFrame, *, jump_sigma: float = 8.0, window: int = 241,
                     neighbours: int = 10, zero_volume_run: int = 5,
                     flat_run: int = 5) -> pd.DataFrame:
    """Everything suspicious in one canonical candle frame.

    Parameters
    ----------
    df : pandas.DataFrame
        A canonical candle frame (``df.attrs["interval"]`` set). Unsorted or duplicated
        rows are reported as ``invalid``; the sequential checks then run on the sorted,
        de-duplicated rows.
    jump_sigma : float, default 8.0
        Threshold of the ``jump`` and ``open_gap`` checks, in local robust sigmas (see
        the module docstring).
    window : int, default 241
        Candles in the centred window of the rolling MAD.
    neighbours : int, default 10
        Candles on each side whose high-low ranges give the Parkinson scale.
    zero_volume_run : int, default 5
        Shortest run of zero-volume candles reported.
    flat_run : int, default 5
        Shortest run of identical OHLC candles reported.

    Returns
    -------
    pandas.DataFrame
        One row per finding, sorted by time: ``time`` (open time of the candle, or of the
        first candle of a run; ``datetime64[ms, UTC]``), ``kind`` (see
        :data:`FINDING_KINDS`), ``detail`` (a sentence) and ``value`` (the log return for
        ``jump`` and ``open_gap``, the run length for runs, NaN otherwise). attrs:
        ``symbol, interval, alignment, source``.

    Raises
    ------
    CandleValidationError
        When the frame's interval is unknown or candle columns are missing.
    FormatError
        For a non-positive threshold, window or run length.

    Examples
    --------
    >>> from candlekit.synthetic import synthetic_candles
    >>> df = synthetic_candles("BTC", "1h", "2026-01-01", "2026-01-15", seed=7)
    >>> quality_findings(df).empty
    True
    """
    _check_options(jump_sigma=jump_sigma, window=window, neighbours=neighbours,
                   zero_volume_run=zero_volume_run, flat_run=flat_run)
    iv = frame_interval(df)
    alignment = frame_alignment(df)
    missing = [c for c in ("open", "high", "low", "close", "volume", "closed")
               if c not in df.columns]
    if missing:
        from .errors import CandleValidationError

        raise CandleValidationError(
            f"Cannot audit: missing candle columns {missing}. Build the frame with "
            "candlekit.make_frame or candlekit.conform.")
    parts = [_invalid(df)]
    clean = df
    if len(df) and not (df.index.is_monotonic_increasing and df.index.is_unique):
        clean = df[~df.index.duplicated(keep="last")].sort_index()
    parts.append(_open_candles(clean))
    if len(clean) > 1:
        t = clean.index.asi8
        ordinal = bucket_ordinal(t, iv, alignment=alignment)
        parts.extend(_jumps(clean, ordinal, jump_sigma=jump_sigma, window=window,
                            neighbours=neighbours))
        vol = clean["volume"].to_numpy(np.float64)
        parts.append(_zero_volume_runs(clean, vol, zero_volume_run))
        parts.append(_flat_runs(clean, vol, flat_run))
    out = pd.concat([p for p in parts if len(p)] or [_empty()], ignore_index=True)
    out["time"] = out["time"].astype("datetime64[ms, UTC]")
    out["value"] = out["value"].astype(np.float64)
    kind_order = out["kind"].map(FINDING_KINDS.index)
    out = (out.assign(_k=kind_order).sort_values(["time", "_k"], kind="stable")
           .drop(columns="_k").reset_index(drop=True))
    out.attrs = {k: df.attrs.get(k) for k in ("symbol", "interval", "source")}
    out.attrs["alignment"] = alignment
    return out


def _check_options(**options: float) -> None:
    for name, value in options.items():
        if not (isinstance(value, (int, float, np.integer, np.floating))
                and not isinstance(value, bool) and value > 0 and np.isfinite(value)):
            raise FormatError(f"{name} must be a positive number, got {value!r}.", value)


def _empty() -> pd.DataFrame:
    return pd.DataFrame({"time": pd.Series(dtype="datetime64[ms, UTC]"),
                         "kind": pd.Series(dtype=object), "detail": pd.Series(dtype=object),
                         "value": pd.Series(dtype=np.float64)})


def _rows(times: Any, kind: str, details: list[str], values: Any) -> pd.DataFrame:
    n = len(details)
    return pd.DataFrame({"time": pd.DatetimeIndex(times).as_unit("ms"), "kind": [kind] * n,
                         "detail": details, "value": np.asarray(values, np.float64)})


def _when(t_ms: int) -> str:
    return f"{pd.Timestamp(int(t_ms), unit='ms', tz='UTC'):%Y-%m-%d %H:%M} UTC"


def _invalid(df: pd.DataFrame) -> pd.DataFrame:
    bad = find_invalid(df)
    if not len(bad):
        return _empty()
    details = [f"invalid candle: {c}" for c in bad["check"]]
    return _rows(bad["time"], "invalid", details, np.full(len(bad), np.nan))


def _open_candles(df: pd.DataFrame) -> pd.DataFrame:
    pos = np.flatnonzero(~df["closed"].to_numpy(bool))
    if not len(pos):
        return _empty()
    last = len(df) - 1
    details = ["latest candle, still forming: its values will change until it closes"
               if p == last else
               "open candle followed by later candles: it should have closed by now; "
               "fetch this range again" for p in pos]
    return _rows(df.index[pos], "open", details, np.full(len(pos), np.nan))


def _jumps(df: pd.DataFrame, ordinal: np.ndarray, *, jump_sigma: float, window: int,
           neighbours: int) -> list[pd.DataFrame]:
    """``jump`` and ``open_gap`` findings."""
    with np.errstate(divide="ignore", invalid="ignore"):
        o, h, lo, c = (np.log(df[k].to_numpy(np.float64)) for k in ("open", "high", "low",
                                                                      "close"))
    traded = df["volume"].to_numpy(np.float64) > 0
    finite = np.isfinite(o) & np.isfinite(h) & np.isfinite(lo) & np.isfinite(c)
    rows = np.flatnonzero(traded & finite)
    out = []
    if len(rows) < 3:
        return out
    # close-to-close between traded candles, per square root of the buckets spanned
    span = np.diff(ordinal[rows]).astype(np.float64)
    ret = np.diff(c[rows]) / np.sqrt(span)
    at = rows[1:]
    scale = _local_scale(ret, (h - lo)[at] / _PARKINSON, window=window, neighbours=neighbours)
    if scale is None:
        return out
    z = np.abs(ret) / scale
    hit = np.flatnonzero(z > jump_sigma)
    if len(hit):
        details = [f"close-to-close log return {ret[i] * np.sqrt(span[i]):+.4f} over "
                   f"{int(span[i])} bucket(s) from the close at "
                   f"{_when(df.index.asi8[rows[i]])}: {z[i]:.1f} robust sigmas "
                   f"(threshold {jump_sigma:g})" for i in hit]
        out.append(_rows(df.index[at[hit]], "jump", details, ret[hit] * np.sqrt(span[hit])))
    # open against the previous candle's close (any previous candle with a price)
    prev = np.flatnonzero(finite)
    if len(prev) > 1:
        gap_span = np.diff(ordinal[prev]).astype(np.float64)
        gap = (o[prev[1:]] - c[prev[:-1]]) / np.sqrt(gap_span)
        # the scale of the nearest traded return at or before each candle
        k = np.clip(np.searchsorted(at, prev[1:], side="right") - 1, 0, len(at) - 1)
        gz = np.abs(gap) / scale[k]
        ghit = np.flatnonzero(gz > jump_sigma)
        if len(ghit):
            details = [f"open {gap[i] * np.sqrt(gap_span[i]):+.4f} (log) away from the "
                       f"previous close at {_when(df.index.asi8[prev[i]])}: {gz[i]:.1f} "
                       f"robust sigmas (threshold {jump_sigma:g}); stitched or shifted data?"
                       for i in ghit]
            out.append(_rows(df.index[prev[1:][ghit]], "open_gap", details,
                             gap[ghit] * np.sqrt(gap_span[ghit])))
    return out


def _local_scale(ret: np.ndarray, parkinson: np.ndarray, *, window: int,
                 neighbours: int) -> np.ndarray | None:
    """The robust scale of each return (see the module docstring), or None if undefined."""
    moved = pd.Series(np.where(ret != 0, ret, np.nan))
    if moved.count() < 3:
        return None
    g_med = moved.median()
    g_scale = _MAD_TO_SIGMA * (moved - g_med).abs().median()
    if not np.isfinite(g_scale) or g_scale <= 0:
        return None
    w = int(window)
    min_periods = max(3, w // 4)
    med = moved.rolling(w, center=True, min_periods=min_periods).median()
    mad = _MAD_TO_SIGMA * (moved - med).abs().rolling(w, center=True,
                                                      min_periods=min_periods).median()
    pk = pd.Series(np.where(parkinson > 0, parkinson, np.nan))
    k = int(neighbours)
    left = pk.shift(1).rolling(k, min_periods=1).median()
    right = pk[::-1].shift(1).rolling(k, min_periods=1).median()[::-1]
    local = np.fmax(np.fmax(left.to_numpy(), right.to_numpy()), mad.to_numpy())
    return np.where(np.isfinite(local) & (local > 0), local, g_scale)


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and length of every run of True."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return edges[::2], edges[1::2] - edges[::2]


def _zero_volume_runs(df: pd.DataFrame, vol: np.ndarray, min_run: int) -> pd.DataFrame:
    starts, lengths = _runs(vol == 0)
    keep = lengths >= min_run
    starts, lengths = starts[keep], lengths[keep]
    if not len(starts):
        return _empty()
    t = df.index.asi8
    details = [f"{n} consecutive candles with zero volume, to {_when(t[s + n - 1])}"
               for s, n in zip(starts, lengths)]
    return _rows(df.index[starts], "zero_volume", details, lengths)


def _flat_runs(df: pd.DataFrame, vol: np.ndarray, min_run: int) -> pd.DataFrame:
    ohlc = df[["open", "high", "low", "close"]].to_numpy(np.float64)
    same = np.zeros(len(df), dtype=bool)
    same[1:] = (ohlc[1:] == ohlc[:-1]).all(axis=1)
    # a run of n identical candles is the first one plus n - 1 rows equal to their previous
    starts, lengths = _runs(same)
    starts, lengths = starts - 1, lengths + 1
    keep = lengths >= min_run
    starts, lengths = starts[keep], lengths[keep]
    traded = np.array([(vol[s:s + n] > 0).any() for s, n in zip(starts, lengths)], dtype=bool)
    if not traded.any():
        return _empty()
    starts, lengths = starts[traded], lengths[traded]
    t = df.index.asi8
    details = [f"{n} consecutive candles with the same open, high, low and close "
               f"({ohlc[s, 3]:g}), to {_when(t[s + n - 1])}: a stale feed?"
               for s, n in zip(starts, lengths)]
    return _rows(df.index[starts], "flat", details, lengths)


def store_findings(store: Store | str | os.PathLike[str] | None = None, *,
                   symbols: str | Iterable[str] | None = None,
                   intervals: str | Iterable[str] | None = None,
                   sources: str | Iterable[str] | None = None, window: Window = None,
                   now: TimeLike | None = None, jump_sigma: float = 8.0,
                   zero_volume_run: int = 5, flat_run: int = 5) -> pd.DataFrame:
    """:func:`quality_findings` for every selected series of a store.

    Parameters
    ----------
    store : Store, path or None
        The store (``None``: ``$CANDLEKIT_DATA`` or ``./data``).
    symbols, intervals, sources : str or list of str, optional
        Only these series (default: every stored one).
    window : str, Timedelta or (start, end), optional
        As for :func:`candlekit.coverage.coverage_table`: ``None`` audits whole series,
        ``"30d"`` the latest 30 days.
    now : time, optional
        As for :func:`candlekit.coverage.coverage_table`.
    jump_sigma, zero_volume_run, flat_run
        Passed to :func:`quality_findings`.

    Returns
    -------
    pandas.DataFrame
        ``symbol, interval, source, time, kind, detail, value``, by series then time.
    """
    st = open_store(store)
    spans, bad = _spans(st, symbols, intervals, sources, window, now)
    parts = []
    for row in spans.itertuples(index=False):
        bad_here = bad.setdefault((row.symbol, row.interval, row.source), [])
        if row.end <= row.start and not bad_here:
            continue
        df = _read_span(st, row, bad_here)
        found = quality_findings(df, jump_sigma=jump_sigma, zero_volume_run=zero_volume_run,
                                 flat_run=flat_run)
        if bad_here:
            warn = _rows(pd.to_datetime([b["start"] for b in bad_here], unit="ms", utc=True),
                         "unreadable",
                         [f"corrupted store file {b['path']} ({b['reason']}): its period was "
                          "skipped; move the file away and backfill the period again"
                          for b in bad_here], [np.nan] * len(bad_here))
            found = pd.concat([found, warn], ignore_index=True) if len(found) else warn
        if len(found):
            found.insert(0, "source", row.source)
            found.insert(0, "interval", row.interval)
            found.insert(0, "symbol", row.symbol)
            parts.append(found)
    if not parts:
        empty = _empty()
        for i, c in enumerate(("symbol", "interval", "source")):
            empty.insert(i, c, pd.Series(dtype=object))
        return empty
    out = pd.concat(parts, ignore_index=True)
    out.attrs = {}
    return out


def summarize_findings(findings: pd.DataFrame) -> pd.DataFrame:
    """One row per series and kind of finding: how many, when, and an example.

    An illiquid coin can have thousands of zero-volume runs; this is the table to read
    first.

    Parameters
    ----------
    findings : pandas.DataFrame
        From :func:`store_findings` (or :func:`quality_findings`, without the series
        columns).

    Returns
    -------
    pandas.DataFrame
        ``[symbol, interval, source,] kind, findings, first, last, example`` (the detail of
        the first finding), by series then in :data:`FINDING_KINDS` order.

    Raises
    ------
    FormatError
        When ``findings`` lacks the ``time``, ``kind`` or ``detail`` column.
    """
    missing = [c for c in ("time", "kind", "detail") if c not in findings.columns]
    if missing:
        raise FormatError(f"Not a findings table: missing columns {missing}. Build it with "
                          "candlekit.quality.store_findings(store).", missing)
    keys = [c for c in ("symbol", "interval", "source") if c in findings.columns]
    columns = [*keys, "kind", "findings", "first", "last", "example"]
    if not len(findings):
        out = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
        out["findings"] = out["findings"].astype(np.int64)
        for c in ("first", "last"):
            out[c] = out[c].astype("datetime64[ms, UTC]")
        return out
    ordered = findings.assign(_k=findings["kind"].map(FINDING_KINDS.index))
    sort_keys = list(keys)
    if "interval" in keys:  # intervals in their natural order, not alphabetical
        ordered["_i"] = ordered["interval"].map(lambda i: INTERVALS.index(i)
                                                if i in INTERVALS else len(INTERVALS))
        sort_keys[keys.index("interval")] = "_i"
    ordered = ordered.sort_values([*sort_keys, "_k", "time"], kind="stable")
    grouped = ordered.groupby([*keys, "_k"], sort=False)
    out = grouped.agg(kind=("kind", "first"), findings=("kind", "size"), first=("time", "min"),
                      last=("time", "max"), example=("detail", "first")).reset_index()
    return out[columns].reset_index(drop=True)

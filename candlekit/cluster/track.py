"""Track records of many stored series: one series per unit, in process or on a cluster.

A call at ``t`` depends on the series' whole history before ``t``: the indicators are
recursive (EMA, Wilder's RSI/ATR/ADX carry their warm-up forward) and ``p_up`` is the
series' own frequency of a higher close after its past calls. A series therefore cannot be
cut into period files the way resampling and the gap scan are; here the unit of work is
one whole series. Each unit reads its series with :meth:`candlekit.Store.read` where it
runs (on a worker, never shipped from the client), grades it with the one-frame
:func:`candlekit.track_record` and sends back the :class:`~candlekit.TrackRecord`; the
client assembles a :class:`TrackRecords`. The same function runs in a loop here without a
client, so the results with and without one are equal exactly. A series too short to make
a call, or one whose file cannot be read, is a summary row with zero calls and a reason,
never an error for the whole run.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..analysis import call as _call
from ..analysis.scoring import summarize
from ..analysis.track import (
    TrackRecord,
    calibration_table,
    check_steps,
    empty_track_record,
    track_record,
)
from ..errors import CorruptFileError, FormatError, InvalidTimeError, SeriesNotFoundError
from ..frame import empty_frame
from ..intervals import close_ms, parse_interval
from ..provenance import SYNTHETIC_BANNER, is_synthetic
from ..store import SeriesKey, Store
from ..timeutil import TimeLike, to_ms, to_timestamp
from .progress import check_client, run_units
from .units import names, require_series

__all__ = ["KEY_COLUMNS", "TRACK_SUMMARY_COLUMNS", "TrackRecords", "track_records",
           "track_unit", "warm_analysis_kernels"]

#: The columns that name a call's series, first in :attr:`TrackRecords.calls`.
KEY_COLUMNS = ("symbol", "interval", "source", "synthetic")

#: The columns of :attr:`TrackRecords.summary`, one row per series.
TRACK_SUMMARY_COLUMNS = (
    "symbol", "interval", "source", "synthetic", "alignment", "status", "reason",
    "candles", "calls", "first_as_of", "last_as_of", "horizon", "every",
    "n", "hits", "hit_rate", "hit_rate_lo", "hit_rate_hi", "base_rate_up", "brier",
    "brier_base", "brier_skill", "mean_signed_return", "share_up", "share_down",
    "share_flat", "pending", "missing")

_INT_COLUMNS = ("candles", "calls", "horizon", "every", "n", "hits", "pending", "missing")
_FLOAT_COLUMNS = ("hit_rate", "hit_rate_lo", "hit_rate_hi", "base_rate_up", "brier",
                  "brier_base", "brier_skill", "mean_signed_return", "share_up",
                  "share_down", "share_flat")
ANALYSIS_PLUGIN_NAME = "candlekit-analysis-warm-up"


# --- on a worker ---------------------------------------------------------------------------


def _closed_before(df: pd.DataFrame, end_ms: int) -> pd.DataFrame:
    """The candles whose close time ``T`` is before ``end_ms``."""
    if not len(df):
        return df
    al = df.attrs.get("alignment") or "calendar"
    keep = close_ms(df.index.asi8, df.attrs["interval"], alignment=al) < end_ms
    if keep.all():
        return df
    out = df[keep]
    out.attrs = dict(df.attrs)
    return out


def _no_call_reason(df: pd.DataFrame, closed: int, start: Any, end: Any) -> str:
    until = f" before {to_timestamp(end).isoformat()}" if end is not None else ""
    if not len(df):
        return f"no candle stored that closes{until}"
    if closed == 0:
        return (f"none of its {len(df)} stored candles{until} is closed yet; wait for them "
                "to close, or backfill history")
    if closed < _call.MIN_BARS:
        return (f"only {closed} closed candles{until}; the first call needs "
                f"{_call.MIN_BARS} (EMA50's warm-up): backfill more history")
    if start is not None:
        return (f"no call at or after start {to_timestamp(start).isoformat()}: its last "
                "closed candle closes before it")
    return "no candle had every indicator warmed up"  # pragma: no cover - defensive


def track_unit(key: SeriesKey, *, store: Store, every: int, horizon: int,
               start: pd.Timestamp | None, end: pd.Timestamp | None) -> dict[str, Any]:
    """Grade one stored series (one unit of work; runs wherever the unit runs).

    Reads the series with :meth:`Store.read` (open times before ``end``), keeps the
    candles that closed before ``end``, and runs :func:`candlekit.track_record` on them.

    Returns
    -------
    dict
        ``record`` (the series' :class:`TrackRecord`, or None when its files could not be
        read), ``candles`` (closed candles used), ``status`` (``ok``, ``no_calls``,
        ``unreadable``), ``reason`` (None when ``ok``) and ``alignment``.
    """
    try:
        df = store.read(key.symbol, key.interval, end=end, source=key.source)
    except CorruptFileError as exc:
        return {"record": None, "candles": 0, "status": "unreadable", "reason": str(exc),
                "alignment": None}
    if end is not None:
        df = _closed_before(df, to_ms(end))
    closed = int(df["closed"].sum())
    if closed:
        rec = track_record(df, every=every, horizon=horizon, start=start)
    else:
        rec = empty_track_record(df, every=every, horizon=horizon)
    ok = len(rec.calls) > 0
    return {"record": rec, "candles": closed, "status": "ok" if ok else "no_calls",
            "reason": None if ok else _no_call_reason(df, closed, start, end),
            "alignment": df.attrs.get("alignment")}


def warm_analysis_kernels() -> float:
    """Compile (or load from numba's cache) the analysis kernels; returns seconds spent."""
    import time

    from ..synthetic import synthetic_candles

    started = time.perf_counter()
    track_record(synthetic_candles("WARMUP", "1h", "2026-01-01", "2026-01-04", seed=0))
    return time.perf_counter() - started


def _warm_up(client: Any) -> None:
    """Warm the analysis kernels up on every worker (and on workers joining later)."""
    from ._plugin import AnalysisWarmUpPlugin

    client.register_plugin(AnalysisWarmUpPlugin(), name=ANALYSIS_PLUGIN_NAME)


# --- the result ----------------------------------------------------------------------------


@dataclass
class TrackRecords:
    """Walk-forward track records of many stored series at one interval.

    Attributes
    ----------
    calls : pandas.DataFrame
        Every call of every series: ``symbol, interval, source, synthetic``, then the
        columns of :attr:`TrackRecord.calls` (``time, as_of, direction, p_up, ...,
        outcome, realized_return, hit, up``); sorted by symbol, then ``time`` (then
        source). ``calls.attrs`` says ``interval, horizon, every, synthetic`` and
        ``synthetic_series``.
    summary : pandas.DataFrame
        One row per selected series, sorted by symbol then source
        (:data:`TRACK_SUMMARY_COLUMNS`): the series and whether it is ``synthetic``;
        ``status`` (``ok``; ``no_calls`` for a series too short to make any call, or with
        none at or after ``start``; ``unreadable`` when a file of it cannot be read) and
        ``reason``; ``candles`` (closed candles used), ``calls``, ``first_as_of`` and
        ``last_as_of``; then :attr:`TrackRecord.summary`'s figures (the 95% Wilson
        interval as ``hit_rate_lo``, ``hit_rate_hi``; NaN where there is nothing to
        measure).
    by_series : dict
        :class:`~candlekit.SeriesKey` to that series' own :class:`TrackRecord` (every
        series read, those with no calls included; not unreadable ones).
    interval : str
    horizon, every : int
    """

    calls: pd.DataFrame
    summary: pd.DataFrame
    by_series: dict[SeriesKey, TrackRecord]
    interval: str
    horizon: int
    every: int
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def synthetic(self) -> bool:
        """Whether any series is synthetic (every view of the records must say so)."""
        return bool(self.summary["synthetic"].any())

    def record(self, symbol: str, *, source: str | None = None) -> TrackRecord:
        """One series' :class:`TrackRecord`.

        Raises
        ------
        SeriesNotFoundError
            When no graded series (or several sources, without ``source=``) match.
        """
        found = [k for k in self.by_series
                 if k.symbol == symbol and (source is None or k.source == source)]
        if len(found) == 1:
            return self.by_series[found[0]]
        have = ", ".join(f"{k.symbol} ({k.source})" for k in self.by_series) or "none"
        if found:
            raise SeriesNotFoundError(
                f"{symbol} {self.interval} was graded from several sources "
                f"({', '.join(k.source for k in found)}): pass source=.", symbol)
        raise SeriesNotFoundError(
            f"No track record of {symbol} {self.interval}"
            + (f" from {source!r}" if source else "") + f" here; graded series: {have}.",
            symbol)

    def pooled(self) -> dict[str, Any]:
        """:func:`candlekit.analysis.scoring.summarize` over every series' calls at once.

        Returns
        -------
        dict
            The summary figures over all graded calls, plus ``series`` (how many have
            calls), ``interval``, ``horizon`` and ``synthetic``.
        """
        out = summarize(self.calls)
        out.update(series=int((self.summary["calls"] > 0).sum()), interval=self.interval,
                   horizon=self.horizon, synthetic=self.synthetic)
        return out

    def calibration(self, bins: int = 10) -> pd.DataFrame:
        """Predicted ``p_up`` against the observed frequency of a higher close, pooled
        over every series (see :meth:`TrackRecord.calibration`)."""
        return calibration_table(self.calls, bins=bins)

    def _repr_markdown_(self) -> str:
        s = self.summary
        synth = s.loc[s["synthetic"], ["symbol", "source"]]
        head = ""
        if len(synth):
            head = ("**SYNTHETIC DATA** (" + ", ".join(f"{a} ({b})" for a, b in
                                                      synth.itertuples(index=False))
                    + f"). {SYNTHETIC_BANNER}\n\n")
        lines = [head + f"Track records of {len(s)} {self.interval} series (horizon "
                 f"{self.horizon}, a call every {self.every} candle(s)); "
                 f"{int(s['n'].sum()):,} graded calls.", "",
                 ("| symbol | source | synthetic | calls | graded | hit rate | base rate up "
                  "| Brier skill | note |"), "|---|---|---|---:|---:|---:|---:|---:|---|"]
        for r in s.itertuples(index=False):
            pct = (lambda x: "" if pd.isna(x) else f"{100 * x:.1f}%")
            skill = "" if pd.isna(r.brier_skill) else f"{r.brier_skill:.4f}"
            lines.append(f"| {r.symbol} | {r.source} | {'yes' if r.synthetic else 'no'} | "
                         f"{r.calls:,} | {r.n:,} | {pct(r.hit_rate)} | "
                         f"{pct(r.base_rate_up)} | {skill} | "
                         f"{r.reason if isinstance(r.reason, str) else ''} |")
        return "\n".join(lines)


# --- on the client -------------------------------------------------------------------------


def _select(store: Store, interval: Any, symbols: Any, source: Any) -> list[SeriesKey]:
    """The selected series, sorted by symbol then source, or a clear error."""
    if interval is None:
        raise FormatError(
            "A track record over a store needs interval=: the interval whose stored series "
            "to grade, e.g. track_record(store, interval='1h').", interval)
    iv = parse_interval(interval).name
    syms = names(symbols, "symbols")
    if source is not None and (not isinstance(source, str) or not source):
        raise FormatError(f"source must be one source name such as 'hyperliquid', got "
                          f"{source!r}.", source)
    held = store.series(interval=iv, source=source)
    require_series(held, store, f"interval {iv!r}" + (f", source {source!r}" if source else ""))
    if syms is not None:
        absent = sorted(set(syms) - {k.symbol for k in held})
        if absent:
            have = ", ".join(sorted({k.symbol for k in held}))
            raise SeriesNotFoundError(
                f"No {iv} candles of {', '.join(absent)}"
                + (f" from {source!r}" if source else "") + f" in the store at {store.root}"
                f" (it holds {iv} of: {have}). Backfill them first, or leave them out of "
                "symbols=.", absent)
        held = [k for k in held if k.symbol in syms]
    return sorted(held, key=lambda k: (k.symbol, k.source))


def _bound(value: TimeLike | None) -> pd.Timestamp | None:
    return None if value is None else to_timestamp(value)


def _summary_row(key: SeriesKey, res: dict[str, Any], every: int, horizon: int
                 ) -> dict[str, Any]:
    rec: TrackRecord | None = res["record"]
    s = rec.summary if rec is not None else summarize(_template(key, res, every, horizon).calls)
    ci = s.get("hit_rate_ci95") or [None, None]
    calls = rec.calls if rec is not None else None
    row = {"symbol": key.symbol, "interval": key.interval, "source": key.source,
           "synthetic": is_synthetic(key.source), "alignment": res["alignment"],
           "status": res["status"], "reason": res["reason"], "candles": res["candles"],
           "calls": 0 if calls is None else len(calls),
           "first_as_of": calls["as_of"].iloc[0] if calls is not None and len(calls) else None,
           "last_as_of": calls["as_of"].iloc[-1] if calls is not None and len(calls) else None,
           "horizon": horizon, "every": every, "hit_rate_lo": ci[0], "hit_rate_hi": ci[1]}
    for c in ("n", "hits", "hit_rate", "base_rate_up", "brier", "brier_base", "brier_skill",
              "mean_signed_return", "share_up", "share_down", "share_flat", "pending",
              "missing"):
        row[c] = s[c]
    return row


def _template(key: SeriesKey, res: dict[str, Any], every: int, horizon: int) -> TrackRecord:
    """An empty record of the series (for its columns and summary fields)."""
    df = empty_frame(symbol=key.symbol, interval=key.interval,
                     alignment=res.get("alignment") or "calendar", source=key.source)
    return empty_track_record(df, every=every, horizon=horizon)


def _all_calls(records: dict[SeriesKey, TrackRecord], template: pd.DataFrame
               ) -> pd.DataFrame:
    """Every record's calls in one frame, the series' key columns first, sorted by
    symbol, then time, then source. ``records`` are in (symbol, source) order."""
    parts = [(k, r.calls) for k, r in records.items() if len(r.calls)]
    if parts:
        body = pd.concat([c for _, c in parts], ignore_index=True) if len(parts) > 1 \
            else parts[0][1].reset_index(drop=True)
    else:  # no call at all: the same columns and dtypes, no rows
        text = [c for c in template.columns if template[c].dtype == object]
        body = template.astype(dict.fromkeys(text, "str")).reset_index(drop=True)
    body.attrs = {}
    sizes = [len(c) for _, c in parts]
    keys = [k for k, _ in parts]
    values = {"symbol": [k.symbol for k in keys], "interval": [k.interval for k in keys],
              "source": [k.source for k in keys]}
    for pos, name in enumerate(KEY_COLUMNS[:3]):
        body.insert(pos, name, pd.array(np.repeat(np.array(values[name], dtype=object),
                                                  sizes), dtype="str"))
    body.insert(3, "synthetic", np.repeat(np.array([is_synthetic(k.source) for k in keys],
                                                   dtype=bool), sizes))
    symbols = [k.symbol for k in keys]
    if len(set(symbols)) < len(symbols):  # a symbol from several sources: interleave by time
        body = body.sort_values(["symbol", "time", "source"], kind="stable",
                                ignore_index=True)
    return body


def _assemble(keys: list[SeriesKey], results: dict[int, dict[str, Any]], *, interval: str,
              every: int, horizon: int, start: Any, end: Any) -> TrackRecords:
    by_series = {keys[i]: results[i]["record"] for i in range(len(keys))
                 if results[i]["record"] is not None}
    template = next(iter(by_series.values())).calls if by_series else \
        _template(keys[0], results[0], every, horizon).calls
    calls = _all_calls(by_series, template.iloc[:0])
    rows = [_summary_row(keys[i], results[i], every, horizon) for i in range(len(keys))]
    summary = pd.DataFrame(rows, columns=list(TRACK_SUMMARY_COLUMNS))
    for c in _INT_COLUMNS:
        summary[c] = summary[c].astype(np.int64)
    for c in _FLOAT_COLUMNS:
        summary[c] = summary[c].astype(np.float64)
    summary["synthetic"] = summary["synthetic"].astype(bool)
    for c in ("first_as_of", "last_as_of"):
        summary[c] = pd.to_datetime(summary[c], utc=True, format="ISO8601").dt.as_unit("ms")
    synthetic_series = [f"{k.symbol} {k.interval} ({k.source})" for k in keys
                        if is_synthetic(k.source)]
    attrs = {"interval": interval, "horizon": horizon, "every": every,
             "start": None if start is None else start.isoformat(),
             "end": None if end is None else end.isoformat(),
             "synthetic": bool(synthetic_series), "synthetic_series": synthetic_series}
    calls.attrs = dict(attrs)
    summary.attrs = dict(attrs)
    return TrackRecords(calls=calls, summary=summary, by_series=by_series, interval=interval,
                        horizon=horizon, every=every, attrs=attrs)


def track_records(store: Store | str | os.PathLike[str], *, interval: str,
                  symbols: str | Iterable[str] | None = None, source: str | None = None,
                  every: int = 1, horizon: int | None = None, start: TimeLike | None = None,
                  end: TimeLike | None = None, client: Any = None,
                  progress: bool = True) -> TrackRecords:
    """Grade every selected stored series at ``interval``: one series per unit of work.

    The unit of work is one whole series, not a period file: a call at ``t`` depends on
    all of the series' history before ``t`` (recursive indicators, and ``p_up`` from the
    series' own past calls), so each unit reads its whole series (up to ``end``) with
    :meth:`Store.read` where it runs and grades it with :func:`candlekit.track_record`.
    Results with a client equal the in-process results exactly.

    Parameters
    ----------
    store : Store, str or os.PathLike
        The store, or its root directory.
    interval : str
        The interval whose stored series are graded (one of the 15).
    symbols : str or list of str, optional
        Only these coins (default: every one stored at ``interval``).
    source : str, optional
        Only series of this source (default: every source; a symbol stored by two sources
        is two series).
    every : int, default 1
        A call every ``every`` candles (counted from each series' first call).
    horizon : int, optional
        Horizon of the calls in candles (default as :func:`candlekit.analyze`).
    start : time, optional
        First ``as_of`` to call at. History before it is still read: it is the warm-up.
    end : time, optional
        The records as they stood at ``end``: only candles that closed before ``end``
        are used (so every ``as_of`` is in ``[start, end)``), and calls whose target
        candle had not closed by then are ``pending``.
    client : distributed.Client, optional
        Run the units on this Dask cluster (``client.map``, analysis kernels warmed up on
        every worker first); ``None`` runs them in this process, in a loop.
    progress : bool, default True
        A ``tqdm.auto`` bar over completed series (and the dashboard link, if any).

    Returns
    -------
    TrackRecords
        ``.calls`` (every call, with ``symbol, interval, source, synthetic`` first, sorted
        by symbol then time), ``.summary`` (one row per series, those with no call
        included, with the reason), ``.by_series`` (each series' :class:`TrackRecord`).

    Raises
    ------
    SeriesNotFoundError
        When nothing is stored at ``interval`` (from ``source``), or a named symbol is
        not; the message lists what the store holds. Before any work.
    InvalidIntervalError
        For an unknown interval.
    InvalidTimeError
        For an unreadable ``start``/``end``, or ``end`` not after ``start``.
    AnalysisError
        When ``every`` or ``horizon`` is not a positive integer.
    FormatError
        Without ``interval``, or when ``client`` is not a connected
        :class:`distributed.Client`.

    Warns
    -----
    RuntimeWarning
        For each series with a file that cannot be read (its row says ``unreadable``).

    Examples
    --------
    >>> trs = ck.track_record(store, interval="1h", client=client)       # doctest: +SKIP
    >>> trs.summary[["symbol", "calls", "hit_rate", "brier_skill", "synthetic"]]  # doctest: +SKIP
    >>> trs.by_series[ck.SeriesKey("hyperliquid", "BTC", "1h")].calibration()  # doctest: +SKIP
    """
    from ..coverage import open_store

    store = open_store(store)
    client = check_client(client, store)
    every, h = check_steps(every, horizon)
    s, e = _bound(start), _bound(end)
    if s is not None and e is not None and e <= s:
        raise InvalidTimeError(f"end ({e}) must be after start ({s}): swap them or widen "
                               "the range.", (start, end))
    keys = _select(store, interval, symbols, source)
    iv = keys[0].interval
    if client is not None:
        _warm_up(client)
    results: dict[int, dict[str, Any]] = {}
    for i, res in run_units(track_unit, keys, client=client, desc=f"track {iv}",
                            progress=progress, unit_name="series",
                            kwargs={"store": store, "every": every, "horizon": h,
                                    "start": s, "end": e}):
        results[i] = res
        if res["status"] == "unreadable":
            k = keys[i]
            warnings.warn(f"track_record() could not read {k.symbol} {k.interval} "
                          f"({k.source}): {res['reason']}", RuntimeWarning, stacklevel=3)
    return _assemble(keys, results, interval=iv, every=every, horizon=h, start=s, end=e)

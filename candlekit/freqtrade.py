"""Importing freqtrade OHLCV files into the canonical candle frame.

freqtrade's ``download-data`` writes one file per pair, interval and candle type, named
``{pair}-{timeframe}[-{candle_type}].{ext}`` where the pair's ``/`` and ``:`` became
``_`` (``BTC/USDC:USDC`` 1h futures → ``BTC_USDC_USDC-1h-futures.feather``) and the
month timeframe is written ``1Mo``. Formats: feather and parquet (columns ``date open
high low close volume``) and json / json.gz (a list of ``[ms, o, h, l, c, v]`` rows).

The files carry no trade count, quote volume or closed flag: :func:`read_freqtrade` sets
trades and quote volume to null (unknown) and marks a candle closed when its close time
has passed. Weekly and monthly files are recognised as Hyperliquid's (Thursday weeks,
30-day months) or calendar ones (Monday weeks, calendar months) from their timestamps.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import FormatError
from .frame import make_frame
from .intervals import (
    ALIGNMENTS,
    Alignment,
    Interval,
    check_alignment,
    close_ms,
    is_aligned,
    parse_interval,
)
from .timeutil import TimeLike, to_ms, to_ms_array, utc_now_ms

__all__ = ["parse_freqtrade_name", "read_freqtrade"]

SOURCE = "freqtrade"
_COLUMNS = ("open", "high", "low", "close", "volume")
_NAME = re.compile(
    r"^(?P<pair>.+?)-(?P<timeframe>\d+(?:Mo|[smhdwM]))(?:-(?P<candle_type>[A-Za-z_]+))?"
    r"\.(?P<ext>feather|parquet|json|json\.gz)$")


def parse_freqtrade_name(path: str | Path) -> dict[str, str]:
    """Pair, symbol, interval, candle type and format from a freqtrade file name.

    Parameters
    ----------
    path : str or pathlib.Path
        E.g. ``BTC_USDC_USDC-1h-futures.feather`` or ``ETH_USDT-5m.json``.

    Returns
    -------
    dict
        ``pair`` (``"BTC/USDC:USDC"``), ``symbol`` (the base coin, ``"BTC"``),
        ``interval`` (``"1h"``; ``1Mo`` becomes ``"1M"``), ``candle_type`` (``"spot"``
        when the name has none) and ``format`` (``feather``, ``parquet``, ``json`` or
        ``json.gz``).

    Raises
    ------
    FormatError
        When the name does not follow freqtrade's pattern.
    InvalidIntervalError
        When the timeframe is not one of candlekit's intervals.
    """
    name = Path(path).name
    match = _NAME.match(name)
    if match is None:
        raise FormatError(
            f"Cannot read {name!r} as a freqtrade OHLCV file: expected a name like "
            "'BTC_USDC_USDC-1h-futures.feather' or 'ETH_USDT-5m.json' "
            "({pair}-{timeframe}[-{candle_type}].{feather|parquet|json|json.gz}).", name)
    timeframe = match["timeframe"]
    interval = parse_interval("1M" if timeframe == "1Mo" else timeframe).name
    candle_type = match["candle_type"] or "spot"
    parts = match["pair"].split("_")
    settled = candle_type != "spot"
    if len(parts) < (3 if settled else 2):
        raise FormatError(
            f"Cannot tell the pair from {name!r}: a {candle_type} file name starts with "
            f"{'BASE_QUOTE_SETTLE' if settled else 'BASE_QUOTE'} (e.g. "
            f"{'BTC_USDC_USDC-1h-futures' if settled else 'ETH_USDT-5m'}).", name)
    if settled:
        base, quote, settle = "_".join(parts[:-2]), parts[-2], parts[-1]
        pair = f"{base}/{quote}:{settle}"
    else:
        base, quote = "_".join(parts[:-1]), parts[-1]
        pair = f"{base}/{quote}"
    return {"pair": pair, "symbol": base, "interval": interval, "candle_type": candle_type,
            "format": match["ext"]}


def read_freqtrade(path: str | Path, *, alignment: Alignment | None = None,
                   now: TimeLike | None = None) -> pd.DataFrame:
    """Read a freqtrade OHLCV file as a canonical candle frame.

    Parameters
    ----------
    path : str or pathlib.Path
        A freqtrade file (feather, parquet, json or json.gz), named as freqtrade names
        them: symbol and interval come from the name (see :func:`parse_freqtrade_name`).
    alignment : {"calendar", "hyperliquid"}, optional
        The file's bucket alignment. By default it is recognised from the timestamps of
        3d/1w/1M files: Thursday weeks and 30-day months are ``"hyperliquid"``, Monday
        weeks and calendar months ``"calendar"`` (3d is the same under both; shorter
        intervals are too, and default to ``"calendar"``).
    now : time, optional
        The present, for the ``closed`` flags (default: the current time). A candle is
        closed when its close time is before ``now``.

    Returns
    -------
    pandas.DataFrame
        The canonical frame, sorted, exact duplicate rows dropped; ``trades`` and
        ``quote_volume`` null (freqtrade does not keep them). attrs: ``symbol`` (the
        base coin), ``interval``, ``alignment``, ``source="freqtrade"``, ``pair`` (the
        freqtrade pair, e.g. ``"BTC/USDC:USDC"``) and ``candle_type``.

    Raises
    ------
    FormatError
        For an unreadable file or name, times that match neither alignment (or not the
        one given), or two different candles with the same open time.
    """
    path = Path(path)
    meta = parse_freqtrade_name(path)
    iv = parse_interval(meta["interval"])
    t, cols = _read_columns(path, meta["format"])
    t, cols = _sorted_unique(t, cols, path)
    al = _alignment(t, iv, alignment, path)
    now_ms = utc_now_ms() if now is None else to_ms(now)
    df = make_frame(t, *cols, closed=close_ms(t, iv, alignment=al) < now_ms,
                    symbol=meta["symbol"], interval=iv.name, alignment=al, source=SOURCE)
    df.attrs.update(pair=meta["pair"], candle_type=meta["candle_type"])
    return df


def _read_columns(path: Path, fmt: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """Open times (ms) and the five OHLCV columns of the file."""
    try:
        if fmt in ("json", "json.gz"):
            return _json_columns(path, fmt)
        raw = pd.read_feather(path) if fmt == "feather" else pd.read_parquet(path)
    except (OSError, ValueError) as exc:  # pyarrow errors subclass these
        raise FormatError(f"Cannot read freqtrade file {path}: {exc}. Download it again "
                          "with freqtrade's download-data.", str(path)) from exc
    missing = [c for c in ("date", *_COLUMNS) if c not in raw.columns]
    if missing:
        raise FormatError(
            f"freqtrade file {path} lacks columns {missing}: expected date, open, high, low, "
            "close, volume.", str(path))
    date = raw["date"]
    if date.dtype.kind == "f":
        raise FormatError(f"freqtrade file {path} has float dates: expected datetimes or "
                          "integer epoch milliseconds.", str(path))
    t = to_ms_array(date)
    return t, [raw[c].to_numpy(dtype=np.float64) for c in _COLUMNS]


def _json_columns(path: Path, fmt: str) -> tuple[np.ndarray, list[np.ndarray]]:
    opener: Any = gzip.open if fmt == "json.gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        rows = json.load(fh)
    if not isinstance(rows, list) or any(not isinstance(r, list) or len(r) < 6 for r in rows):
        raise FormatError(
            f"freqtrade json file {path} is not a list of [ms, open, high, low, close, volume] "
            "rows.", str(path))
    arr = np.array([r[:6] for r in rows], dtype=np.float64).reshape(-1, 6)
    ms = arr[:, 0]
    if not np.all(np.isfinite(ms)) or np.any(ms != np.round(ms)):
        raise FormatError(f"freqtrade json file {path} has non-integer timestamps: expected "
                          "epoch milliseconds.", str(path))
    return ms.astype(np.int64), [arr[:, k].copy() for k in range(1, 6)]


def _sorted_unique(t: np.ndarray, cols: list[np.ndarray], path: Path
                   ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Sort by time; drop rows repeated exactly; raise on different rows at one time."""
    if len(t) > 1 and not np.all(t[1:] > t[:-1]):
        order = np.argsort(t, kind="stable")
        t, cols = t[order], [c[order] for c in cols]
        same_time = np.flatnonzero(t[1:] == t[:-1]) + 1
        values = np.column_stack(cols)
        equal = np.all((values[same_time] == values[same_time - 1])
                       | (np.isnan(values[same_time]) & np.isnan(values[same_time - 1])),
                       axis=1)
        conflicts = same_time[~equal]
        if len(conflicts):
            times = ", ".join(str(pd.Timestamp(int(x), unit="ms", tz="UTC"))
                              for x in t[conflicts[:5]])
            raise FormatError(
                f"freqtrade file {path} holds {len(conflicts)} conflicting duplicate "
                f"candle(s) (same open time, different values) at {times}"
                f"{' ...' if len(conflicts) > 5 else ''}. Delete the file and download the "
                "range again (freqtrade download-data --erase).", str(path))
        keep = np.ones(len(t), dtype=bool)
        keep[same_time] = False
        t, cols = t[keep], [c[keep] for c in cols]
    return t, cols


def _alignment(t: np.ndarray, iv: Interval, alignment: str | None, path: Path) -> str:
    """The alignment given (checked against the times) or recognised from them."""
    fits = [al for al in ALIGNMENTS if is_aligned(t, iv, alignment=al).all()]
    if alignment is not None:
        check_alignment(alignment)
        if alignment not in fits:
            hint = (f"; the times fit {fits[0]!r}: pass alignment={fits[0]!r} or none"
                    if fits else "")
            raise FormatError(
                f"freqtrade file {path}: its {iv.name} open times are not aligned to "
                f"{alignment!r} buckets{hint}.", str(path))
        return alignment
    if not fits:
        if iv.depends_on_alignment():
            what = ("Monday (calendar) or Thursday (Hyperliquid) weeks" if iv.name == "1w"
                    else "calendar months or Hyperliquid's 30-day months")
        else:
            what = f"{iv.name} buckets"
        raise FormatError(
            f"freqtrade file {path}: its {iv.name} open times fit neither alignment (expected "
            f"{what}). Check that the file's interval matches its name.", str(path))
    return "calendar" if "calendar" in fits else fits[0]

"""Building and conforming the canonical candle frame.

The canonical frame is a :class:`pandas.DataFrame` indexed by ``time`` (candle open time,
``datetime64[ms, UTC]``, unique, strictly increasing, aligned to the interval) with columns

==============  ===========  ===================================================
``open``        float64
``high``        float64
``low``         float64
``close``       float64
``volume``      float64      base-asset volume
``quote_volume`` Float64     nullable: null means *unknown*, never zero
``trades``      Int64        nullable: null means unknown
``closed``      bool         False while the candle can still change
==============  ===========  ===================================================

``df.attrs`` carries ``symbol``, ``interval``, ``alignment`` and ``source``. The schema
itself is declared once, in :mod:`candlekit.schema`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .errors import CandleValidationError
from .intervals import Alignment, check_alignment, parse_interval
from .timeutil import to_index, to_ms_array

__all__ = [
    "ATTRS",
    "COLUMNS",
    "PRICE_COLUMNS",
    "conform",
    "empty_frame",
    "frame_alignment",
    "frame_interval",
    "make_frame",
    "masked_parts",
]

PRICE_COLUMNS = ("open", "high", "low", "close")
COLUMNS = (*PRICE_COLUMNS, "volume", "quote_volume", "trades", "closed")
ATTRS = ("symbol", "interval", "alignment", "source")


def _attrs(symbol: str | None, interval: str | None, alignment: str, source: str | None
           ) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "interval": parse_interval(interval).name if interval is not None else None,
        "alignment": check_alignment(alignment),
        "source": source,
    }


def make_frame(
    time: Any,
    open: Any,
    high: Any,
    low: Any,
    close: Any,
    volume: Any,
    *,
    quote_volume: Any = None,
    trades: Any = None,
    closed: Any = True,
    symbol: str | None = None,
    interval: str | None = None,
    alignment: Alignment = "calendar",
    source: str | None = None,
) -> pd.DataFrame:
    """Build a canonical candle frame from column arrays.

    Parameters
    ----------
    time : array-like
        Open times: epoch milliseconds, datetimes or ISO strings (naive means UTC).
    open, high, low, close, volume : array-like of float
    quote_volume : array-like of float or None, optional
        Quote volume; ``None``/NaN entries mean unknown. Omitted means all unknown.
    trades : array-like of int or None, optional
        Trade counts; omitted means all unknown.
    closed : bool or array-like of bool, default True
    symbol, interval, alignment, source
        Stored in ``df.attrs``.

    Returns
    -------
    pandas.DataFrame
        In the canonical layout; not validated (call :func:`candlekit.validate`).
    """
    index = to_index(to_ms_array(time))
    n = len(index)
    data = {
        name: np.asarray(col, dtype=np.float64)
        for name, col in zip(("open", "high", "low", "close", "volume"),
                             (open, high, low, close, volume))
    }
    data["quote_volume"] = _nullable(quote_volume, n, "Float64")
    data["trades"] = _nullable(trades, n, "Int64")
    data["closed"] = (np.full(n, bool(closed)) if np.ndim(closed) == 0
                      else np.asarray(closed, dtype=bool))
    df = pd.DataFrame(data, index=index)
    df.attrs.update(_attrs(symbol, interval, alignment, source))
    return df


def _nullable(values: Any, n: int, dtype: str) -> pd.api.extensions.ExtensionArray:
    """A masked ``Float64``/``Int64`` array; ``None`` means all unknown, NaN means unknown."""
    if values is None:
        if dtype == "Float64":
            return pd.arrays.FloatingArray(np.zeros(n), np.ones(n, dtype=bool))
        return pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool))
    if isinstance(values, pd.Series):
        values = values.array
    if dtype == "Int64" and isinstance(values, np.ndarray) and values.dtype.kind == "f":
        mask = np.isnan(values)  # float -> Int64 through a mask
        return pd.arrays.IntegerArray(np.where(mask, 0, values).astype(np.int64), mask)
    return pd.array(values, dtype=dtype)


def empty_frame(*, symbol: str | None = None, interval: str | None = None,
                alignment: Alignment = "calendar", source: str | None = None) -> pd.DataFrame:
    """An empty canonical frame with the right dtypes and attrs.

    Parameters
    ----------
    symbol, interval, alignment, source
        Stored in ``df.attrs``.

    Returns
    -------
    pandas.DataFrame
    """
    e = np.array([], dtype=np.float64)
    return make_frame(np.array([], dtype=np.int64), e, e, e, e, e, quote_volume=None,
                      trades=None, closed=np.array([], dtype=bool), symbol=symbol,
                      interval=interval, alignment=alignment, source=source)


def conform(df: pd.DataFrame, *, symbol: str | None = None, interval: str | None = None,
            alignment: Alignment | None = None, source: str | None = None,
            closed: bool | None = None) -> pd.DataFrame:
    """Return ``df`` in the canonical layout (dtypes, index unit, column order, attrs).

    Accepts a frame indexed by ``time`` or with a ``time``/``date``/``timestamp`` column.
    Missing ``quote_volume``/``trades`` become unknown (null), a missing ``closed`` takes
    ``closed`` (required then). Keyword attrs override ``df.attrs``. Rows are not
    reordered or dropped: use :func:`candlekit.validate` to check the result.

    Parameters
    ----------
    df : pandas.DataFrame
        Candles with at least ``open high low close volume`` and open times.
    symbol, interval, alignment, source : optional
        Override ``df.attrs``.
    closed : bool, optional
        Closed flag for every candle when ``df`` has no ``closed`` column.

    Returns
    -------
    pandas.DataFrame
        The canonical layout; extra columns are kept after the canonical ones.

    Raises
    ------
    CandleValidationError
        When open times or OHLCV columns are missing, or closedness is unknown.
    """
    attrs: Mapping[str, Any] = df.attrs
    src = df
    if not isinstance(src.index, pd.DatetimeIndex):
        for name in ("time", "date", "timestamp", "t"):
            if name in src.columns:
                src = src.set_index(name)
                break
        else:
            raise CandleValidationError(
                "Cannot find candle open times: index the frame by a DatetimeIndex or give it "
                "a 'time' column.")
    missing = [c for c in ("open", "high", "low", "close", "volume") if c not in src.columns]
    if missing:
        raise CandleValidationError(
            f"Missing candle columns {missing}: rename your columns to "
            "open, high, low, close, volume.")
    if "closed" not in src.columns and closed is None:
        raise CandleValidationError(
            "No 'closed' column: pass closed=True only if every candle is final, or add the "
            "column (a candle that is still open must be closed=False).")
    out = make_frame(
        src.index,
        *(_floats(src[c], c) for c in ("open", "high", "low", "close", "volume")),
        quote_volume=(_floats(src["quote_volume"], "quote_volume")
                      if "quote_volume" in src.columns else None),
        trades=_floats(src["trades"], "trades") if "trades" in src.columns else None,
        closed=src["closed"].to_numpy(bool) if "closed" in src.columns else closed,
        symbol=symbol if symbol is not None else attrs.get("symbol"),
        interval=interval if interval is not None else attrs.get("interval"),
        alignment=alignment if alignment is not None else attrs.get("alignment", "calendar"),
        source=source if source is not None else attrs.get("source"),
    )
    extra = [c for c in src.columns if c not in COLUMNS]
    for c in extra:
        out[c] = src[c].to_numpy()
    return out


def _floats(col: pd.Series, name: str) -> np.ndarray:
    """A column as float64 (NaN = null); numeric text is parsed, other text refused."""
    if col.dtype.kind in "fiub" or isinstance(col.dtype, (pd.Float64Dtype, pd.Int64Dtype)):
        return col.to_numpy(dtype=np.float64, na_value=np.nan)
    parsed = pd.to_numeric(col, errors="coerce")
    bad = np.flatnonzero(parsed.isna().to_numpy() & col.notna().to_numpy())
    if len(bad):
        raise CandleValidationError(
            f"Column {name!r} holds {col.iloc[bad[0]]!r} at row {bad[0]} ({len(bad)} value(s) "
            "that are not numbers): fix or drop those rows, or map the right column.",
            pd.DataFrame({"position": bad, "column": name, "value": col.iloc[bad].to_numpy()}))
    return parsed.to_numpy(dtype=np.float64, na_value=np.nan)


def frame_interval(df: pd.DataFrame, interval: str | None = None):
    """The frame's :class:`~candlekit.intervals.Interval`, from ``interval`` or ``df.attrs``."""
    name = interval if interval is not None else df.attrs.get("interval")
    if name is None:
        raise CandleValidationError(
            "The frame's interval is unknown: set df.attrs['interval'] (e.g. '1m') or pass "
            "interval=.")
    return parse_interval(name)


def frame_alignment(df: pd.DataFrame, alignment: str | None = None) -> str:
    """The frame's alignment, from ``alignment`` or ``df.attrs`` (default ``"calendar"``)."""
    return check_alignment(alignment if alignment is not None
                           else df.attrs.get("alignment") or "calendar")


def masked_parts(values: pd.Series | pd.api.extensions.ExtensionArray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Data and null mask of a nullable column, without copying masked arrays.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray of bool)
        Values (undefined where masked) and the mask (True = null).
    """
    arr = values.array if isinstance(values, pd.Series) else values
    if isinstance(arr, (pd.arrays.FloatingArray, pd.arrays.IntegerArray)):
        return arr._data, arr._mask
    np_arr = np.asarray(arr)
    if np_arr.dtype.kind == "f":
        return np_arr, np.isnan(np_arr)
    if np_arr.dtype == object:
        mask = pd.isna(np_arr)
        return np.where(mask, 0, np_arr).astype(np.float64), mask
    return np_arr, np.zeros(len(np_arr), dtype=bool)

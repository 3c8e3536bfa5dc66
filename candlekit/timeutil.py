"""Conversions between the time types users pass and UTC epoch milliseconds.

Candlekit works in integer milliseconds since the Unix epoch (UTC) internally. Naive
inputs (``"2025-01-01"``, a naive ``datetime``) are taken as UTC; aware inputs in
another zone are converted to UTC.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import numpy as np
import pandas as pd

from .errors import InvalidTimeError

__all__ = ["TimeLike", "to_index", "to_ms", "to_ms_array", "to_timestamp"]

TimeLike = Any  # int ms | str | datetime | np.datetime64 | pd.Timestamp


def to_timestamp(value: TimeLike) -> pd.Timestamp:
    """Return ``value`` as a tz-aware UTC :class:`pandas.Timestamp` with millisecond unit.

    Parameters
    ----------
    value : int, str, datetime, numpy.datetime64 or pandas.Timestamp
        Integers are epoch milliseconds. Naive values are taken as UTC.

    Raises
    ------
    InvalidTimeError
        If the value cannot be read as a time.
    """
    if isinstance(value, (bool, np.bool_)):
        raise InvalidTimeError(f"Unparseable time {value!r}: pass an ISO 8601 string, "
                               "a datetime or epoch milliseconds.", value)
    if isinstance(value, (int, np.integer)):
        ts = pd.Timestamp(int(value), unit="ms", tz="UTC").as_unit("ms")
    else:
        if isinstance(value, float) and not np.isfinite(value):
            raise InvalidTimeError(f"Unparseable time {value!r}.", value)
        try:
            ts = pd.Timestamp(value)
        except (ValueError, TypeError) as exc:
            raise InvalidTimeError(
                f"Unparseable time {value!r}: pass an ISO 8601 string such as "
                "'2025-07-01' or '2025-07-01T12:00:00Z', a datetime, or epoch milliseconds.",
                value,
            ) from exc
        if ts is pd.NaT or pd.isna(ts):
            raise InvalidTimeError(f"Missing time {value!r}: pass a real time.", value)
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts if ts.unit == "ms" else ts.floor("ms").as_unit("ms")


def to_ms(value: TimeLike) -> int:
    """Return ``value`` as integer epoch milliseconds (UTC). See :func:`to_timestamp`."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    return to_timestamp(value).value // 1_000_000  # .value is always nanoseconds


def to_ms_array(values: Any) -> np.ndarray:
    """Return an int64 array of epoch milliseconds for an index, series or array of times.

    A ``datetime64[ms, UTC]`` index converts without a copy.
    """
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        return values.astype(np.int64, copy=False)
    if isinstance(values, (pd.Series, pd.Index)) and values.dtype.kind in "iu":
        return values.to_numpy(dtype=np.int64)
    idx = values if isinstance(values, pd.DatetimeIndex) else pd.DatetimeIndex(
        pd.to_datetime(values, utc=True))
    if idx.tz is None:
        idx = idx.tz_localize("UTC")
    if idx.unit != "ms":
        idx = idx.floor("ms").as_unit("ms")
    if idx.hasnans:
        raise InvalidTimeError("Times contain NaT: drop or fill missing times first.")
    return idx.asi8


def to_index(ms: np.ndarray, name: str | None = "time") -> pd.DatetimeIndex:
    """Wrap an int64 array of epoch milliseconds as a ``datetime64[ms, UTC]`` index (no copy)."""
    arr = np.asarray(ms, dtype=np.int64).view("datetime64[ms]")
    return pd.DatetimeIndex(arr, name=name).tz_localize("UTC")


def utc_now_ms() -> int:
    """The current time in epoch milliseconds (UTC)."""
    return int(_dt.datetime.now(_dt.UTC).timestamp() * 1000)

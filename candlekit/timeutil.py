"""Conversions between the time types users pass and UTC epoch milliseconds.

Candlekit works in integer milliseconds since the Unix epoch (UTC) internally. Every
function that takes a time accepts the same forms (:func:`to_timestamp`):

- ISO 8601 strings: a date (``"2026-11-01"``, ``"20261101"``, ``"2026-11"``, ``"2026"``)
  or a date and time (``"2026-11-01T12:00"``, ``"2026-11-01 12:00:00.250"``), with ``Z``
  or an offset (``"2026-11-01T14:00+02:00"``) or without (naive means UTC);
- ``datetime``/``date``, :class:`numpy.datetime64`, :class:`pandas.Timestamp` (naive
  means UTC; aware values in another zone are converted to UTC);
- integers (and numeric strings, as typed on the command line) as epoch milliseconds.

Anything else is refused with :class:`~candlekit.errors.InvalidTimeError`, whose message
shows the ISO 8601 spelling: ``"01/11/2026"`` could be 1 November or 11 January, so it is
never guessed. An integer ``n`` with ``1e9 <= |n| < 1e11`` is refused as well: as
milliseconds it would fall between 1970-01-12 and 1973-03-03, long before any market
candlekit reads, while as epoch *seconds* it is a time between 2001 and 5138, so it can
only be seconds (the message gives the millisecond value). Smaller integers are taken as
milliseconds (``0`` is the epoch).
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

import numpy as np
import pandas as pd

from .errors import InvalidTimeError

__all__ = ["TimeLike", "to_index", "to_ms", "to_ms_array", "to_timestamp"]

TimeLike = Any  # int ms | str | datetime | np.datetime64 | pd.Timestamp

#: Integers with an absolute value in ``[SECONDS_LOW, SECONDS_HIGH)`` can only be epoch
#: seconds (as milliseconds they would fall in 1970-01-12 .. 1973-03-03).
SECONDS_LOW = 10**9
SECONDS_HIGH = 10**11

_HOW = ("pass an ISO 8601 time such as '2026-11-01', '2026-11-01T12:00:00Z' or "
        "'2026-11-01T14:00+02:00', a datetime, or epoch milliseconds such as 1793491200000")
_ISO = re.compile(
    r"[+-]?\d{4}(?:-\d{2}(?:-\d{2})?|\d{4})?"                      # date
    r"(?:[T ]\d{2}(?::?\d{2}(?::?\d{2}(?:[.,]\d+)?)?)?)?"          # time
    r"(?:\s?(?:Z|[+-]\d{2}(?::?\d{2})?))?")                     # zone
_DIGITS = re.compile(r"[+-]?\d+")


def _iso(ts: pd.Timestamp) -> str:
    """ISO 8601 UTC spelling: the date alone at midnight, else with ``Z``."""
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    if ts == ts.normalize():
        return f"{ts:%Y-%m-%d}"
    return ts.isoformat().replace("+00:00", "Z")


def _from_ms(value: int, given: Any) -> pd.Timestamp:
    if SECONDS_LOW <= abs(value) < SECONDS_HIGH:
        as_ms = pd.Timestamp(value, unit="ms", tz="UTC")
        as_s = pd.Timestamp(value, unit="s", tz="UTC")
        raise InvalidTimeError(
            f"{given!r} looks like epoch seconds ({_iso(as_s)}), not milliseconds (as "
            f"milliseconds it would be {as_ms:%Y-%m-%dT%H:%M:%S}Z, before "
            f"any market data): pass {value * 1000} or '{_iso(as_s)}'.", given)
    try:
        return pd.Timestamp(value, unit="ms", tz="UTC").as_unit("ms")
    except (OverflowError, ValueError) as exc:
        raise InvalidTimeError(f"Time {given!r} is out of range as epoch milliseconds: "
                               f"{_HOW}.", given) from exc


def _suggest(text: str) -> str:
    """The ISO 8601 spelling(s) a non-ISO string may have meant."""
    from dateutil import parser

    readings = []
    for dayfirst in (False, True):
        try:
            ts = pd.Timestamp(parser.parse(text, dayfirst=dayfirst))
        except (ValueError, OverflowError, TypeError):
            continue
        if ts not in [r for r in readings]:
            readings.append(ts)
    if len(readings) == 2:
        a, b = readings
        return (f"it is ambiguous ({_iso(a)} if month first, {_iso(b)} if day first): "
                f"write '{_iso(b)}' or '{_iso(a)}' (ISO 8601, year-month-day)")
    if readings:
        return f"write it in ISO 8601 as '{_iso(readings[0])}'"
    return _HOW


def _from_string(value: str) -> pd.Timestamp:
    text = value.strip()
    if _DIGITS.fullmatch(text):
        digits = text.lstrip("+-")
        if len(digits) not in (4, 8):  # YYYY and YYYYMMDD are ISO 8601 dates
            return _from_ms(int(text), value)
    if not _ISO.fullmatch(text):
        raise InvalidTimeError(f"Unparseable time {value!r}: {_suggest(text)}.", value)
    try:
        ts = pd.Timestamp(text.replace(",", "."))
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidTimeError(f"Invalid time {value!r} ({exc}): {_HOW}.", value) from exc
    return ts


def to_timestamp(value: TimeLike) -> pd.Timestamp:
    """Return ``value`` as a tz-aware UTC :class:`pandas.Timestamp` with millisecond unit.

    Parameters
    ----------
    value : int, str, datetime, date, numpy.datetime64 or pandas.Timestamp
        ISO 8601 strings (date, or date and time, with ``Z``, an offset, or naive =
        UTC), datetimes, or epoch milliseconds (integers, or strings of digits). See the
        module docstring for what is refused.

    Raises
    ------
    InvalidTimeError
        If the value cannot be read as a time, is not ISO 8601 (the message shows the ISO
        spelling), or is an integer that can only be epoch seconds.

    Examples
    --------
    >>> to_timestamp("2026-11-01T02:00+02:00")
    Timestamp('2026-11-01 00:00:00+0000', tz='UTC')
    >>> to_timestamp(1793491200000) == to_timestamp("1793491200000") == to_timestamp("2026-11-01")
    True
    """
    if isinstance(value, (bool, np.bool_)):
        raise InvalidTimeError(f"Unparseable time {value!r}: {_HOW}.", value)
    if isinstance(value, (int, np.integer)):
        return _from_ms(int(value), value)
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            raise InvalidTimeError(f"Unparseable time {value!r}: {_HOW}.", value)
        return _from_ms(int(np.floor(value)), value)
    if isinstance(value, str):
        ts = _from_string(value)
    else:
        try:
            ts = pd.Timestamp(value)
        except (ValueError, TypeError, OverflowError) as exc:
            raise InvalidTimeError(f"Unparseable time {value!r}: {_HOW}.", value) from exc
    if ts is pd.NaT or pd.isna(ts):
        raise InvalidTimeError(f"Missing time {value!r}: pass a real time.", value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts if ts.unit == "ms" else ts.floor("ms").as_unit("ms")


def to_ms(value: TimeLike) -> int:
    """Return ``value`` as integer epoch milliseconds (UTC). See :func:`to_timestamp`."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        if SECONDS_LOW <= abs(int(value)) < SECONDS_HIGH:
            _from_ms(int(value), value)  # raises, saying it looks like seconds
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

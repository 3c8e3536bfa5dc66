"""Candle records as upstream APIs send them, to and from the canonical frame.

Three shapes:

Hyperliquid ``candleSnapshot``
    ``{"t": open ms, "T": close ms, "s": coin, "i": interval, "o", "h", "l", "c", "v":
    decimal strings, "n": trade count}``. ``T`` is the candle's last millisecond
    (:func:`candlekit.intervals.close_time`). No quote volume, no closed flag.
Hydromancer ``candleSnapshot``
    The same plus ``"q"`` (quote volume: a decimal string, or ``null`` when unknown) and
    ``"x"`` (``true`` when the candle is closed).
Kline REST (``/api/klines/data``)
    ``{"timestamp": "2026-04-01T00:00:00Z", "open", "high", "low", "close", "volume":
    numbers}``; candlekit adds ``quote_volume``, ``trades`` and ``closed`` (``null``
    where unknown).

Choices made here
-----------------
* Decimal strings are the shortest string that reads back as the same float, never in
  exponent notation (``"45000.5"``, ``"0.00001234"``, ``"45000.0"``), so frame -> wire ->
  frame is bit-exact.
* An unknown trade count is written ``"n": null``. Hyperliquid always sends a count, but
  writing 0 would claim the candle had no trades; :func:`from_wire` reads ``null`` back as
  unknown.
* A candle is taken as closed only when its interval is over: Hyperliquid records are
  closed when ``T < now``; Hydromancer records when ``x`` is true *and* ``T < now``. A
  record saying ``x: true`` for a candle that has not ended yet (a clock skew, or a
  replay with an earlier ``now``) is kept open rather than stored as final; ``x: false``
  is always open.
* Duplicate open times: identical records collapse; otherwise a closed record wins over
  an open one, and between two of the same kind the later record in the input wins.
* Keys a record has beyond the known fields are ignored (APIs add fields).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .errors import CandlekitError, FormatError
from .frame import empty_frame, frame_alignment, frame_interval, make_frame, masked_parts
from .intervals import (
    ALIGNMENTS,
    Alignment,
    Interval,
    close_ms,
    is_aligned,
    parse_interval,
)
from .schema import validate
from .timeutil import TimeLike, to_ms, utc_now_ms

__all__ = ["format_decimal", "from_rest", "from_wire", "to_rest", "to_wire"]

_WIRE_DECIMALS = ("o", "h", "l", "c", "v")
_REST_NUMBERS = ("open", "high", "low", "close", "volume")
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_DECIMAL_CHARS = re.compile(r"[0-9.eE+\-]*")


# --- formatting --------------------------------------------------------------------------


def format_decimal(x: float) -> str:
    """The shortest decimal string that reads back as ``x``, without an exponent.

    >>> format_decimal(45000.5), format_decimal(1.234e-05), format_decimal(45000.0)
    ('45000.5', '0.00001234', '45000.0')
    """
    r = repr(x)
    if "e" in r:
        r = np.format_float_positional(x, unique=True, trim="0")
    return r


def _nullable_list(series: pd.Series, dtype: type) -> list:
    """Python ints/floats with None for nulls."""
    values, mask = masked_parts(series)
    out = np.asarray(values).astype(dtype).tolist()
    if mask.any():
        for i in np.flatnonzero(mask).tolist():
            out[i] = None
    return out


def to_wire(df: pd.DataFrame, *, hydromancer: bool = False) -> list[dict[str, Any]]:
    """Candles as ``candleSnapshot`` records (Hyperliquid's, or Hydromancer's).

    Parameters
    ----------
    df : pandas.DataFrame
        A valid canonical frame with ``df.attrs["symbol"]`` and ``df.attrs["interval"]``.
    hydromancer : bool, default False
        Add ``"q"`` (quote volume string, ``None`` when unknown) and ``"x"`` (closed).

    Returns
    -------
    list of dict
        Plain Python values (``json.dumps`` works), oldest first. An unknown trade count
        is ``"n": None`` (see the module notes).

    Raises
    ------
    FormatError
        When the frame has no symbol.
    CandleValidationError
        When the frame is not a valid canonical frame.
    """
    iv = frame_interval(df)
    alignment = frame_alignment(df)
    symbol = df.attrs.get("symbol")
    if not symbol:
        raise FormatError("Cannot write candleSnapshot records without a coin name: set "
                          "df.attrs['symbol'] (e.g. 'BTC').")
    validate(df)
    t = df.index.asi8
    cols: dict[str, list] = {
        "t": t.tolist(),
        "T": close_ms(t, iv, alignment=alignment).tolist(),
        **{k: [format_decimal(x) for x in df[name].to_numpy().tolist()]
           for k, name in zip(_WIRE_DECIMALS, _REST_NUMBERS)},
        "n": _nullable_list(df["trades"], np.int64),
    }
    if hydromancer:
        cols["q"] = [None if x is None else format_decimal(x)
                     for x in _nullable_list(df["quote_volume"], np.float64)]
        cols["x"] = df["closed"].to_numpy(dtype=bool).tolist()
    keys = ["t", "T", "o", "h", "l", "c", "v"] + (["q"] if hydromancer else []) + ["n"] + (
        ["x"] if hydromancer else [])
    head = {"s": symbol, "i": iv.name}
    return [{"t": row[0], "T": row[1], **head, **dict(zip(keys[2:], row[2:]))}
            for row in zip(*(cols[k] for k in keys))]


def _iso_times(t: np.ndarray) -> list[str]:
    """ISO 8601 UTC strings of epoch ms, with milliseconds only when they are not zero."""
    texts = np.datetime_as_string(np.asarray(t, dtype=np.int64).view("datetime64[ms]"),
                                  unit="ms").tolist()
    return [f"{x[:-4]}Z" if x.endswith(".000") else f"{x}Z" for x in texts]


def to_rest(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Candles as kline REST records.

    Parameters
    ----------
    df : pandas.DataFrame
        A valid canonical frame.

    Returns
    -------
    list of dict
        ``{"timestamp": "2026-04-01T00:00:00Z", "open", "high", "low", "close",
        "volume": float, "quote_volume": float or None, "trades": int or None,
        "closed": bool}``; the timestamp shows milliseconds only when they are not zero.
    """
    frame_interval(df)
    validate(df)
    cols = [_iso_times(df.index.asi8)]
    cols += [df[name].to_numpy().tolist() for name in _REST_NUMBERS]
    cols += [_nullable_list(df["quote_volume"], np.float64),
             _nullable_list(df["trades"], np.int64), df["closed"].to_numpy(dtype=bool).tolist()]
    keys = ("timestamp", *_REST_NUMBERS, "quote_volume", "trades", "closed")
    return [dict(zip(keys, row)) for row in zip(*cols)]


# --- reading: checks that name the offending record --------------------------------------


def _show(record: Any) -> str:
    text = repr(record)
    return text if len(text) <= 200 else text[:197] + "..."


def _bad(records: Sequence, i: int, what: str) -> FormatError:
    return FormatError(f"Record {i} {_show(records[i])}: {what}. Nothing was read: check "
                       "the response came from the expected endpoint, or drop or fix that "
                       "record and read again.", records[i])


def _column(records: Sequence, key: str, *, optional: bool = False) -> list:
    try:
        return [r[key] for r in records]
    except KeyError:
        if optional:
            return [r.get(key) for r in records]
        i = next(i for i, r in enumerate(records) if key not in r)
        raise _bad(records, i, f"missing field {key!r}") from None


def _check_records(records: Any, fmt: str) -> Sequence:
    if isinstance(records, (str, bytes, Mapping)) or not isinstance(records, Sequence):
        raise FormatError(f"Expected a list of {fmt} records (a JSON array of objects), got "
                          f"{type(records).__name__}: pass the parsed response body.", records)
    if all(type(r) is dict for r in records):  # the parsed-JSON fast path
        return records
    for i, r in enumerate(records):
        if not isinstance(r, Mapping):
            raise _bad(records, i, f"not an object but {type(r).__name__}")
    return records


def _int_column(records: Sequence, key: str, *, nullable: bool = False
                ) -> tuple[np.ndarray, np.ndarray]:
    col = _column(records, key)
    n = len(col)
    if set(map(type, col)) <= {int}:  # fast path: every value a plain int
        try:
            return np.fromiter(col, dtype=np.int64, count=n), np.zeros(n, dtype=bool)
        except OverflowError:
            pass  # the loop below names the record
    for i, v in enumerate(col):
        if not ((type(v) is int and -2**63 <= v < 2**63) or (nullable and v is None)):
            what = "an integer or null" if nullable else "an integer"
            raise _bad(records, i, f"field {key!r} must be {what}, got {v!r}")
    mask = np.fromiter((v is None for v in col), dtype=bool, count=n)
    values = np.fromiter((0 if v is None else v for v in col), dtype=np.int64, count=n)
    return values, mask


def _decimal_column(records: Sequence, key: str, *, nullable: bool = False
                    ) -> tuple[np.ndarray, np.ndarray]:
    col = _column(records, key)
    n = len(col)
    if n and set(map(type, col)) == {str} and _DECIMAL_CHARS.fullmatch("".join(col)):
        # Fast path: only decimal characters, so whatever float() accepts here also matches
        # _DECIMAL ("nan", "inf", "1_0", spaces, newlines all hold other characters);
        # anything else falls through to the loop that names the bad record.
        try:
            values = np.array(col, dtype=np.float64)
        except ValueError:
            pass
        else:
            _check_finite(records, key, values)
            return values, np.zeros(n, dtype=bool)
    for i, v in enumerate(col):
        if v is None and nullable:
            continue
        if type(v) is not str or _DECIMAL.fullmatch(v) is None:
            what = "a decimal string or null" if nullable else "a decimal string"
            raise _bad(records, i, f"field {key!r} must be {what} such as '45000.5', got {v!r}")
    mask = np.fromiter((v is None for v in col), dtype=bool, count=n)
    values = np.array(["0" if v is None else v for v in col], dtype=np.float64)
    _check_finite(records, key, values)
    return values, mask


def _number_column(records: Sequence, key: str, *, optional: bool = False
                   ) -> tuple[np.ndarray, np.ndarray]:
    col = _column(records, key, optional=optional)
    for i, v in enumerate(col):
        if v is None and optional:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            what = "a number or null" if optional else "a number"
            raise _bad(records, i, f"field {key!r} must be {what}, got {v!r}")
    mask = np.fromiter((v is None for v in col), dtype=bool, count=len(col))
    values = np.array([0.0 if v is None else float(v) for v in col], dtype=np.float64)
    _check_finite(records, key, values)
    return values, mask


def _check_finite(records: Sequence, key: str, values: np.ndarray) -> None:
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        raise _bad(records, int(bad[0]), f"field {key!r} is not a finite number")


def _check_candles(records: Sequence, o, h, l, c, v, q, q_null, n, n_null,
                   names: tuple[str, ...]) -> None:
    """Candle invariants, record by record, so the error names the input record."""
    po, ph, pl, pc, pv, pq, pn = names
    checks = (
        (~(np.minimum.reduce([o, h, l, c]) > 0), f"prices {po}/{ph}/{pl}/{pc} must be > 0"),
        (h < np.maximum(o, c), f"high {ph} is below open {po} or close {pc}"),
        (l > np.minimum(o, c), f"low {pl} is above open {po} or close {pc}"),
        (v < 0, f"volume {pv} is negative"),
        (~q_null & (q < 0), f"quote volume {pq} is negative"),
        (~n_null & (n < 0), f"trade count {pn} is negative"),
    )
    for mask, what in checks:
        bad = np.flatnonzero(mask)
        if len(bad):
            raise _bad(records, int(bad[0]), what)


def _one_value(records: Sequence, key: str, given: str | None, label: str) -> str:
    col = _column(records, key)
    if set(map(type, col)) == {str} and len(set(col)) == 1 and (given is None
                                                               or col[0] == given):
        return col[0]  # fast path: one string value throughout
    for i, v in enumerate(col):
        if type(v) is not str:
            raise _bad(records, i, f"field {key!r} must be a string, got {v!r}")
    expected = given if given is not None else col[0]
    for i, v in enumerate(col):
        if v != expected:
            source = f"{label}={given!r} was asked for" if given is not None else (
                f"record 0 has {key}={expected!r}")
            raise _bad(records, i, f"{key}={v!r} but {source}; records of one call must all "
                       f"be one {label}")
    return expected


def _parse_interval(records: Sequence, name: str) -> Interval:
    try:
        return parse_interval(name)
    except CandlekitError as exc:
        raise _bad(records, 0, str(exc)) from None


def _check_aligned(records: Sequence, t: np.ndarray, iv: Interval, alignment: str,
                   label: str) -> None:
    bad = np.flatnonzero(~is_aligned(t, iv, alignment=alignment))
    if len(bad):
        raise _bad(records, int(bad[0]), f"{label} is not the start of a {iv.name} bucket "
                   f"({alignment} alignment)")


def _fits(t: np.ndarray, close: np.ndarray | None, iv: Interval, alignment: str) -> bool:
    if not is_aligned(t, iv, alignment=alignment).all():
        return False
    return close is None or np.array_equal(close_ms(t, iv, alignment=alignment), close)


def _choose_alignment(t: np.ndarray, close: np.ndarray | None, iv: Interval,
                      alignment: str | None, prefer: str) -> str:
    """The given alignment, or the one the open (and close) times fit, ``prefer`` on ties."""
    if alignment is not None:
        return alignment
    order = (prefer, *(a for a in ALIGNMENTS if a != prefer))
    return next((a for a in order if _fits(t, close, iv, a)), prefer)


def _winners(t: np.ndarray, closed: np.ndarray) -> np.ndarray:
    """Row of the record kept for each open time, in time order (see module notes)."""
    pos = np.arange(len(t))
    order = np.lexsort((pos, closed, t))
    ts = t[order]
    last = np.ones(len(ts), dtype=bool)
    last[:-1] = ts[1:] != ts[:-1]
    return order[last]


def from_wire(records: Sequence[Mapping[str, Any]], *, symbol: str | None = None,
              interval: str | None = None, now: TimeLike | None = None,
              alignment: Alignment | None = None, source: str = "hyperliquid"
              ) -> pd.DataFrame:
    """A canonical frame from ``candleSnapshot`` records (Hyperliquid's or Hydromancer's).

    Parameters
    ----------
    records : list of dict
        The parsed JSON response. Records with ``"x"`` are read as Hydromancer's (``"q"``
        may then be ``null``); without, as Hyperliquid's (quote volume unknown). One call's
        records must all have the same shape, coin and interval.
    symbol, interval : str, optional
        When given, every record's ``s``/``i`` must match; needed to label an empty list.
    now : time, optional
        The clock that decides which candles are over (default: the current time).
    alignment : {"calendar", "hyperliquid"}, optional
        Bucket alignment of 1w/1M records; by default the one the records' ``t`` and
        ``T`` fit (Hydromancer's calendar weeks and months, Hyperliquid's epoch-aligned
        ones); where both fit (every other interval), ``"calendar"`` for records with
        ``x`` and ``"hyperliquid"`` for records without.
    source : str, default "hyperliquid"
        Stored in ``df.attrs["source"]``.

    Returns
    -------
    pandas.DataFrame
        A validated canonical frame sorted by open time (duplicates resolved as described
        in the module notes).

    Raises
    ------
    FormatError
        For a record with a missing or mistyped field, an unparseable decimal, a coin or
        interval differing from the others (or from ``symbol``/``interval``), ``T`` not the
        last millisecond of the candle opening at ``t``, or a candle breaking the OHLC
        invariants; the message names the record and its position in ``records``.
    """
    records = _check_records(records, "candleSnapshot")
    now_ms = utc_now_ms() if now is None else to_ms(now)
    if not records:
        return empty_frame(symbol=symbol, interval=interval,
                           alignment=alignment or "calendar", source=source)
    hydro = ["x" in r for r in records]
    if any(hydro) and not all(hydro):
        i = hydro.index(not hydro[0])
        raise _bad(records, i, "mixes Hydromancer records (with 'x') and Hyperliquid records "
                   "(without); read each response on its own")
    hydro = hydro[0]
    sym = _one_value(records, "s", symbol, "symbol")
    iv = _parse_interval(records, _one_value(records, "i", interval, "interval"))
    t, _ = _int_column(records, "t")
    close_t, _ = _int_column(records, "T")
    al = _choose_alignment(t, close_t, iv, alignment, "calendar" if hydro else "hyperliquid")
    _check_aligned(records, t, iv, al, "t")
    bad = np.flatnonzero(close_ms(t, iv, alignment=al) != close_t)
    if len(bad):
        i = int(bad[0])
        raise _bad(records, i, f"T={close_t[i]} but a {iv.name} candle opening at t={t[i]} "
                   f"closes at {close_ms(t[i:i + 1], iv, alignment=al)[0]} "
                   "(its last millisecond)")
    o, h, l, c, v = (_decimal_column(records, k)[0] for k in _WIRE_DECIMALS)
    n, n_null = _int_column(records, "n", nullable=True)
    over = close_t < now_ms
    if hydro:
        q, q_null = _decimal_column(records, "q", nullable=True)
        x = _column(records, "x")
        for i, flag in enumerate(x):
            if type(flag) is not bool:
                raise _bad(records, i, f"field 'x' must be true or false, got {flag!r}")
        closed = np.array(x, dtype=bool) & over
    else:
        q, q_null = np.zeros(len(t)), np.ones(len(t), dtype=bool)
        closed = over
    _check_candles(records, o, h, l, c, v, q, q_null, n, n_null,
                   ("o", "h", "l", "c", "v", "q", "n"))
    return _build(t, o, h, l, c, v, q, q_null, n, n_null, closed,
                  {"symbol": sym, "interval": iv.name, "alignment": al, "source": source},
                  checked=True)


def from_rest(records: Sequence[Mapping[str, Any]], *, symbol: str, interval: str,
              alignment: Alignment = "calendar", now: TimeLike | None = None,
              source: str = "rest") -> pd.DataFrame:
    """A canonical frame from kline REST records.

    Parameters
    ----------
    records : list of dict
        ``timestamp`` (ISO 8601, UTC), ``open high low close volume`` (numbers), and
        optionally ``quote_volume``, ``trades`` and ``closed`` (missing or ``null`` means
        unknown).
    symbol, interval : str
        What the records are (REST records do not say).
    alignment : {"calendar", "hyperliquid"}, default "calendar"
    now : time, optional
        A candle is closed when its interval is over at ``now`` (default: the current
        time) and its record does not say ``"closed": false``; as in :func:`from_wire`,
        ``"closed": true`` on a candle that has not ended yet is kept open.
    source : str, default "rest"
        Stored in ``df.attrs["source"]``.

    Returns
    -------
    pandas.DataFrame
        A validated canonical frame, sorted, duplicates resolved as :func:`from_wire`.

    Raises
    ------
    FormatError
        For a missing or mistyped field, an unparseable or misaligned timestamp, or a
        candle breaking the OHLC invariants; the message names the record.
    """
    records = _check_records(records, "kline REST")
    iv = parse_interval(interval)
    if not records:
        return empty_frame(symbol=symbol, interval=iv.name, alignment=alignment, source=source)
    now_ms = utc_now_ms() if now is None else to_ms(now)
    t = _timestamps(records)
    _check_aligned(records, t, iv, alignment, "timestamp")
    o, h, l, c, v = (_number_column(records, k)[0] for k in _REST_NUMBERS)
    q, q_null = _number_column(records, "quote_volume", optional=True)
    n_raw = _column(records, "trades", optional=True)
    for i, val in enumerate(n_raw):
        if not (val is None or (type(val) is int and -2**63 <= val < 2**63)):
            raise _bad(records, i, f"field 'trades' must be an integer or null, got {val!r}")
    n_null = np.fromiter((val is None for val in n_raw), dtype=bool, count=len(n_raw))
    n = np.fromiter((0 if val is None else val for val in n_raw), dtype=np.int64,
                    count=len(n_raw))
    flags = _column(records, "closed", optional=True)
    over = close_ms(t, iv, alignment=alignment) < now_ms
    closed = np.empty(len(t), dtype=bool)
    for i, flag in enumerate(flags):
        if flag is not None and type(flag) is not bool:
            raise _bad(records, i, f"field 'closed' must be true, false or null, got {flag!r}")
        closed[i] = bool(over[i]) and flag is not False
    _check_candles(records, o, h, l, c, v, q, q_null, n, n_null,
                   ("open", "high", "low", "close", "volume", "quote_volume", "trades"))
    return _build(t, o, h, l, c, v, q, q_null, n, n_null, closed,
                  {"symbol": symbol, "interval": iv.name, "alignment": alignment,
                   "source": source})


def _timestamps(records: Sequence) -> np.ndarray:
    """Epoch ms of every record's ISO 8601 ``timestamp`` (naive = UTC)."""
    stamps = _column(records, "timestamp")
    for i, s in enumerate(stamps):
        if type(s) is not str:
            raise _bad(records, i, f"field 'timestamp' must be an ISO 8601 string, got {s!r}")
    try:
        parsed = pd.to_datetime(pd.Series(stamps), utc=True, format="ISO8601")
    except ValueError:
        parsed = None
    if parsed is None or parsed.isna().any():  # find the culprit, record by record
        for i, s in enumerate(stamps):
            try:
                ok = pd.Timestamp(s) is not pd.NaT
            except ValueError:
                ok = False
            if not ok:
                raise _bad(records, i, f"timestamp {s!r} is not ISO 8601 (use "
                           "'2026-04-01T00:00:00Z')")
    return pd.DatetimeIndex(parsed).as_unit("ms").asi8.copy()


def _build(t, o, h, l, c, v, q, q_null, n, n_null, closed, attrs: dict, *,
           checked: bool = False) -> pd.DataFrame:
    """The frame of the winning records; ``checked``: every schema rule was already checked
    on these arrays (alignment, close times, finiteness, OHLC invariants), so the pandera
    pass, a fixed ~5 ms per call that dominates small pages, is skipped."""
    keep = _winners(t, closed)
    df = make_frame(t[keep], o[keep], h[keep], l[keep], c[keep], v[keep],
                    quote_volume=pd.arrays.FloatingArray(q[keep], q_null[keep]),
                    trades=pd.arrays.IntegerArray(n[keep], n_null[keep]),
                    closed=closed[keep], **attrs)
    return df if checked else validate(df)

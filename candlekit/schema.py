"""The canonical candle schema, declared once, and :func:`validate`.

:class:`CandleSchema` is a pandera ``DataFrameModel``. Its column and index dtypes are
declared as fields; every row invariant (OHLC ordering, non-negative volumes and
counts, positive prices, strictly increasing and aligned open times) is one vectorised
check over the whole frame, compiled with numba, so validating 10M candles takes a
single pass over memory. Prices must be finite and positive and volumes finite and
non-negative (NaN and infinities fail). Column dtypes are checked first, so a text
column gets an error naming it rather than a numba typing error. Only when that check fails does :func:`validate` compute
which rows failed, and why.
"""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaError, SchemaErrors
from pandera.typing import Index, Series

from .errors import CandleValidationError
from .frame import COLUMNS, frame_alignment, frame_interval, masked_parts
from .intervals import Interval, is_aligned

__all__ = ["CandleSchema", "check_numeric_columns", "disorder_error", "dtype_failures",
           "find_invalid", "invalid_rows_error", "validate"]


@numba.njit(cache=True, nogil=True)
def _rows_ok(t, o, h, l, c, v, q, q_null, n, n_null, step, offset):
    """True when every row keeps the candle invariants (step 0 = skip the alignment test)."""
    total = 0.0  # high + volume + quote volume summed: infinite when one of them is
    for i in range(t.shape[0]):
        lo = l[i]
        hi = h[i]
        oi = o[i]
        ci = c[i]
        # written so that NaN anywhere fails; a finite high bounds open, close and low
        if not (lo > 0.0 and lo <= oi and lo <= ci and hi >= oi and hi >= ci):
            return False
        if not (v[i] >= 0.0):
            return False
        total += hi + v[i]
        if not q_null[i]:
            if not (q[i] >= 0.0):
                return False
            total += q[i]
        if not n_null[i] and n[i] < 0:
            return False
        if i > 0 and t[i] <= t[i - 1]:
            return False
        if step > 0 and (t[i] - offset) % step != 0:
            return False
    return total < np.inf


def _candle_rows_ok(df: pd.DataFrame) -> bool:
    iv = frame_interval(df)
    alignment = frame_alignment(df)
    t = df.index.asi8
    q, q_null = masked_parts(df["quote_volume"])
    n, n_null = masked_parts(df["trades"])
    step = iv.step_ms(alignment) or 0
    ok = _rows_ok(t, df["open"].to_numpy(), df["high"].to_numpy(), df["low"].to_numpy(),
                  df["close"].to_numpy(), df["volume"].to_numpy(),
                  np.asarray(q, dtype=np.float64), q_null,
                  np.asarray(n, dtype=np.int64), n_null, step, iv.offset_ms(alignment))
    if ok and step == 0 and len(t):  # calendar months: checked outside the kernel
        ok = bool(is_aligned(t, iv, alignment=alignment).all())
    return bool(ok)


class CandleSchema(pa.DataFrameModel):
    """The canonical candle frame.

    Index ``time`` is the candle open time (``datetime64[ms, UTC]``), unique, strictly
    increasing and aligned to ``df.attrs["interval"]`` under ``df.attrs["alignment"]``.
    ``quote_volume`` and ``trades`` are nullable (null = unknown). Extra columns are
    allowed (the resampler adds constituent counts).
    """

    time: Index[pd.DatetimeTZDtype] = pa.Field(
        dtype_kwargs={"unit": "ms", "tz": "UTC"}, check_name=True)
    open: Series[np.float64]
    high: Series[np.float64]
    low: Series[np.float64]
    close: Series[np.float64]
    volume: Series[np.float64]
    quote_volume: Series[pd.Float64Dtype] = pa.Field(nullable=True)
    trades: Series[pd.Int64Dtype] = pa.Field(nullable=True)
    closed: Series[bool]

    class Config:
        strict = False
        coerce = False

    @pa.dataframe_check(error="candle invariants: high >= max(open, close), low <= min(open, "
                        "close), prices > 0, volume/quote_volume/trades >= 0, open times "
                        "strictly increasing and aligned to the interval")
    def candle_invariants(cls, df: pd.DataFrame) -> bool:
        """One compiled pass over every row invariant (after the dtype checks pass)."""
        if not _is_dtype_ok(df):
            return True  # the column dtype checks report the frame; the kernel needs floats
        return _candle_rows_ok(df)


def find_invalid(df: pd.DataFrame) -> pd.DataFrame:
    """Every row of ``df`` that breaks a candle invariant, with the checks it breaks.

    Returns
    -------
    pandas.DataFrame
        Columns ``position`` (row number), ``time``, ``check`` (one row per failed check),
        and the row's ``open high low close volume``.
    """
    iv = frame_interval(df)
    alignment = frame_alignment(df)
    o, h, l, c = (df[k].to_numpy() for k in ("open", "high", "low", "close"))
    v = df["volume"].to_numpy()
    t = df.index.asi8
    q, q_null = masked_parts(df["quote_volume"])
    n, n_null = masked_parts(df["trades"])
    with np.errstate(invalid="ignore"):
        checks = {
            "price is NaN": np.isnan(o) | np.isnan(h) | np.isnan(l) | np.isnan(c),
            "price is infinite": np.isinf(o) | np.isinf(h) | np.isinf(l) | np.isinf(c),
            "high < max(open, close)": h < np.maximum(o, c),
            "low > min(open, close)": l > np.minimum(o, c),
            "low > high": l > h,
            "price <= 0": l <= 0,
            "volume < 0 or NaN": ~(v >= 0),
            "volume is infinite": np.isinf(v),
            "quote_volume < 0": ~q_null & ~(np.asarray(q, dtype=np.float64) >= 0),
            "quote_volume is infinite": ~q_null & np.isinf(np.asarray(q, dtype=np.float64)),
            "trades < 0": ~n_null & (np.asarray(n) < 0),
        }
    dup = np.zeros(len(t), dtype=bool)
    dup[1:] = t[1:] == t[:-1]
    back = np.zeros(len(t), dtype=bool)
    back[1:] = t[1:] < t[:-1]
    checks["duplicate time"] = dup
    checks["time not increasing"] = back
    checks[f"time not aligned to {iv.name} ({alignment})"] = ~is_aligned(
        t, iv, alignment=alignment)
    frames = []
    for name, mask in checks.items():
        pos = np.flatnonzero(mask)
        if len(pos):
            part = df.iloc[pos][["open", "high", "low", "close", "volume"]].reset_index()
            part.insert(0, "check", name)
            part.insert(0, "position", pos)
            frames.append(part)
    if not frames:
        return pd.DataFrame(columns=["position", "time", "check", "open", "high", "low",
                                     "close", "volume"])
    return pd.concat(frames, ignore_index=True).sort_values(
        ["position", "check"], kind="stable").reset_index(drop=True)


def validate(df: pd.DataFrame, *, interval: str | None = None,
             alignment: str | None = None) -> pd.DataFrame:
    """Check that ``df`` is a valid canonical candle frame and return it unchanged.

    Parameters
    ----------
    df : pandas.DataFrame
        A candle frame; ``df.attrs["interval"]`` (or ``interval=``) must be set.
    interval : str, optional
        Overrides ``df.attrs["interval"]`` for the alignment check.
    alignment : {"calendar", "hyperliquid"}, optional
        Overrides ``df.attrs["alignment"]`` (default ``"calendar"``).

    Returns
    -------
    pandas.DataFrame
        ``df`` itself.

    Raises
    ------
    CandleValidationError
        With ``.failures``: a frame of the failing rows and the check each broke (see
        :func:`find_invalid`: NaN or infinite prices and volumes, high below low, ...),
        or of the failing columns for dtype problems (text or object columns are named,
        before any compiled check runs; see :func:`dtype_failures`).
    """
    if interval is not None or alignment is not None:
        df = df.copy(deep=False)
        if interval is not None:
            df.attrs["interval"] = frame_interval(df, interval).name
        if alignment is not None:
            df.attrs["alignment"] = frame_alignment(df, alignment)
    frame_interval(df)  # a clear error before pandera runs
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise CandleValidationError(
            f"Missing candle columns {missing}: build frames with candlekit.make_frame or "
            "candlekit.conform, which add nullable quote_volume/trades.",
            pd.DataFrame({"column": missing, "check": "missing column"}))
    wrong = dtype_failures(df)
    if len(wrong):
        listing = "; ".join(f"{r.column} is {r.got} (expected {r.expected})"
                            for r in wrong.itertuples())
        raise CandleValidationError(
            f"{_label(df)} is not a canonical candle frame: {listing}. Convert with "
            "candlekit.conform(df) (it parses numeric text and refuses anything else), or "
            "build the frame with candlekit.make_frame.", wrong)
    try:
        CandleSchema.validate(df, lazy=True)
    except (SchemaErrors, SchemaError) as exc:
        cases = getattr(exc, "failure_cases", None)
        row_failures = find_invalid(df) if _is_dtype_ok(df) else None
        if row_failures is not None and len(row_failures):
            raise CandleValidationError(
                f"{row_failures['position'].nunique()} invalid candle(s) in "
                f"{_label(df)}; first: {_first(row_failures)}. See .failures for every "
                "failing row; fix or drop them before storing.", row_failures) from None
        raise CandleValidationError(
            f"{_label(df)} is not a canonical candle frame: {_schema_summary(exc)}. "
            "Use candlekit.conform(df) to fix dtypes and the index unit.", cases) from None
    return df


_EXPECTED_DTYPES = {"open": "float64", "high": "float64", "low": "float64",
                    "close": "float64", "volume": "float64", "quote_volume": "Float64",
                    "trades": "Int64", "closed": "bool"}


def dtype_failures(df: pd.DataFrame) -> pd.DataFrame:
    """Candle columns (and the index) whose dtype is not the canonical one.

    Returns
    -------
    pandas.DataFrame
        Columns ``column``, ``check`` (``"dtype"``), ``expected`` and ``got`` (a text
        column shows as ``object (text)``); empty when every dtype is right. Missing
        columns are not listed.
    """
    return _failure_frame(_wrong_dtypes(df))


def _failure_frame(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame({"column": [r[0] for r in rows], "check": ["dtype"] * len(rows),
                         "expected": [r[1] for r in rows], "got": [r[2] for r in rows]},
                        columns=["column", "check", "expected", "got"])


def _wrong_dtypes(df: pd.DataFrame) -> list[tuple[str, str, str]]:
    """``(column, expected, got)`` per wrong dtype: plain Python, cheap on any frame."""
    rows = []
    if not (isinstance(df.index, pd.DatetimeIndex)
            and str(df.index.dtype) == "datetime64[ms, UTC]"):
        rows.append(("time (index)", "datetime64[ms, UTC]", str(df.index.dtype)))
    dtypes = dict(zip(df.columns, df.dtypes))
    for name, expected in _EXPECTED_DTYPES.items():
        if name not in dtypes:
            continue
        got = str(dtypes[name])
        if got == expected:
            continue
        if (got in ("object", "string", "str") or got.startswith("string")) \
                and _holds_text(df[name]):
            got = f"{got} (text)"
        rows.append((name, expected, got))
    return rows


def _holds_text(col: pd.Series) -> bool:
    return bool(col.map(lambda x: isinstance(x, str)).any())


def _is_dtype_ok(df: pd.DataFrame) -> bool:
    try:
        return (isinstance(df.index, pd.DatetimeIndex) and str(df.index.dtype)
                == "datetime64[ms, UTC]" and all(df[c].dtype == np.float64 for c in
                                                 ("open", "high", "low", "close", "volume"))
                and str(df["quote_volume"].dtype) == "Float64"
                and str(df["trades"].dtype) == "Int64" and df["closed"].dtype == bool)
    except KeyError:
        return False


def _label(df: pd.DataFrame) -> str:
    a = df.attrs
    return f"{a.get('symbol') or '?'} {a.get('interval') or '?'} ({a.get('source') or '?'})"


def _first(failures: pd.DataFrame) -> str:
    row = failures.iloc[0]
    return f"row {row['position']} at {row['time']}: {row['check']}"


def _schema_summary(exc: Exception) -> str:
    cases = getattr(exc, "failure_cases", None)
    if cases is not None and len(cases):
        parts = [f"{r.column}: {r.check} (got {r.failure_case})"
                 for r in cases.head(5).itertuples()]
        return "; ".join(parts)
    return str(exc).splitlines()[0]


def disorder_error(t: np.ndarray, row: int, interval: Interval, alignment: str, *,
                   doing: str, misaligned: bool = False) -> CandleValidationError:
    """The error for an index that breaks order or alignment at ``row``.

    Shared by the functions that check the index while they work
    (:func:`candlekit.resample`, :func:`candlekit.find_gaps`); ``doing`` names the
    operation in the message.
    """
    when = pd.Timestamp(int(t[row]), unit="ms", tz="UTC")
    if misaligned or row == 0 or t[row] > t[row - 1]:
        return CandleValidationError(
            f"Cannot {doing}: candle at row {row} ({when}) is not aligned to "
            f"{interval.name} buckets under {alignment!r} alignment. Check "
            "df.attrs['interval'] and df.attrs['alignment'], or floor the index with "
            "candlekit.floor_time.")
    prev = pd.Timestamp(int(t[row - 1]), unit="ms", tz="UTC")
    what = "duplicate open time" if t[row] == t[row - 1] else "index not sorted"
    return CandleValidationError(
        f"Cannot {doing}: {what} at row {row} ({prev} then {when}). Sort with "
        "df.sort_index() and drop duplicate times (keep the newest candle) first.")


def check_numeric_columns(df: pd.DataFrame, *, doing: str) -> None:
    """Refuse a frame whose candle columns hold text or objects (before any numba pass).

    Numeric dtypes other than the canonical ones (float32, int64, ...) and object columns
    of numbers and nulls are accepted: the functions that call this convert them.

    Raises
    ------
    CandleValidationError
        Naming the columns, with ``.failures`` from :func:`dtype_failures`.
    """
    wrong = [r for r in _wrong_dtypes(df)  # objects without text: numbers and None
             if not (r[2] == "object" or _is_numeric_dtype_name(r[2]))]
    if wrong:
        listing = "; ".join(f"{name} is {got} (expected {expected})"
                            for name, expected, got in wrong)
        raise CandleValidationError(
            f"Cannot {doing}: {_label(df)} is not a candle frame: {listing}. Convert it with "
            "candlekit.conform(df) (it parses numeric text and refuses anything else).",
            _failure_frame(wrong))


def _is_numeric_dtype_name(name: str) -> bool:
    try:
        dtype = pd.api.types.pandas_dtype(name)
    except TypeError:
        return name.startswith("datetime64")  # an index in another unit or zone
    return (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
            or name.startswith("datetime64"))


def invalid_rows_error(df: pd.DataFrame, *, doing: str, lo: int = 0,
                       hi: int | None = None) -> CandleValidationError:
    """The error for candles that break the invariants, found in rows ``[lo, hi)``.

    Shared by the functions that check the candles while they work
    (:func:`candlekit.resample`, :func:`candlekit.find_gaps`); only the rows of the
    failing part are examined again, so the error costs little on a large frame.
    """
    part = df.iloc[lo:hi]
    part.attrs = dict(df.attrs)
    failures = find_invalid(part)
    failures["position"] += lo
    failures = failures[~failures["check"].str.startswith("time ")
                        & (failures["check"] != "duplicate time")].reset_index(drop=True)
    first = _first(failures) if len(failures) else f"rows {lo} to {hi}"
    n = failures["position"].nunique() if len(failures) else "some"
    return CandleValidationError(
        f"Cannot {doing}: {n} invalid candle(s) in {_label(df)}{' near' if lo else ''}; "
        f"first: {first}. candlekit.validate(df) lists every failing row (.failures); fix "
        "or drop them first.", failures)

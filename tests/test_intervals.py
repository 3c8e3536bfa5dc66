"""Interval parsing and bucket arithmetic under both alignments."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from candlekit.errors import InvalidAlignmentError, InvalidIntervalError, InvalidTimeError
from candlekit.intervals import (
    ALIGNMENTS,
    INTERVALS,
    bucket_ordinal,
    bucket_range,
    close_time,
    count_buckets,
    floor_time,
    next_bucket,
    ordinal_to_ms,
    parse_interval,
    tiles,
)

UTC = dt.UTC
T = pd.Timestamp


def test_fifteen_intervals_in_order():
    assert INTERVALS == ("1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "8h", "12h",
                         "1d", "3d", "1w", "1M")


@pytest.mark.parametrize("bad", ["45m", "1H", "1mo", "", "1Mo", None, 60, "1 m", "2d"])
def test_parse_rejects_unknown(bad):
    with pytest.raises(InvalidIntervalError) as info:
        parse_interval(bad)
    msg = str(info.value)
    assert msg.startswith("Invalid interval")
    assert repr(bad) in msg and "1s, 1m" in msg and "1M" in msg
    assert isinstance(info.value, ValueError)


def test_bad_alignment():
    with pytest.raises(InvalidAlignmentError, match="calendar.*hyperliquid"):
        floor_time("2025-01-01", "1w", alignment="binance")


# Reference implementations written with the standard library, independent of the
# ordinal arithmetic under test.
def _ref_floor(ts: dt.datetime, name: str, alignment: str) -> dt.datetime:
    epoch = dt.datetime(1970, 1, 1, tzinfo=UTC)
    if name == "1M" and alignment == "calendar":
        return ts.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if name == "1w" and alignment == "calendar":
        d = ts.replace(hour=0, minute=0, second=0, microsecond=0)
        return d - dt.timedelta(days=d.weekday())  # Monday
    step = {"1M": dt.timedelta(days=30), "1w": dt.timedelta(days=7)}.get(
        name, dt.timedelta(milliseconds=parse_interval(name).nominal_ms))
    return epoch + ((ts - epoch) // step) * step


def _ref_next(start: dt.datetime, name: str, alignment: str) -> dt.datetime:
    if name == "1M" and alignment == "calendar":
        y, m = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
        return start.replace(year=y, month=m)
    if name == "1M":
        return start + dt.timedelta(days=30)
    return start + dt.timedelta(milliseconds=parse_interval(name).nominal_ms)


times = st.datetimes(min_value=dt.datetime(1965, 1, 1), max_value=dt.datetime(2100, 12, 31),
                     timezones=st.just(UTC)).map(lambda d: d.replace(
                         microsecond=d.microsecond // 1000 * 1000))


@pytest.mark.parametrize("alignment", ALIGNMENTS)
@pytest.mark.parametrize("name", INTERVALS)
@settings(max_examples=60, deadline=None)
@given(ts=times)
def test_floor_next_close_match_reference(name, alignment, ts):
    start = _ref_floor(ts, name, alignment)
    nxt = _ref_next(start, name, alignment)
    assert floor_time(ts, name, alignment=alignment) == start
    assert next_bucket(ts, name, alignment=alignment) == nxt
    assert close_time(ts, name, alignment=alignment) == T(nxt) - pd.Timedelta(milliseconds=1)
    # floor is idempotent, and the close time belongs to the same bucket
    assert floor_time(start, name, alignment=alignment) == start
    assert floor_time(close_time(ts, name, alignment=alignment), name,
                      alignment=alignment) == start


@pytest.mark.parametrize(
    "t, name, alignment, expected",
    [
        ("2025-07-24T15:00Z", "1w", "calendar", "2025-07-21"),      # Thursday -> Monday
        ("2025-07-24T15:00Z", "1w", "hyperliquid", "2025-07-24"),   # Thursday weeks
        ("2025-07-20T23:59:59.999Z", "1w", "hyperliquid", "2025-07-17"),
        ("2025-05-20", "1M", "hyperliquid", "2025-05-12"),          # 30-day months
        ("2025-06-11", "1M", "hyperliquid", "2025-06-11"),
        ("2025-06-10T23:59:59.999Z", "1M", "hyperliquid", "2025-05-12"),
        ("2024-02-29T12:00Z", "1M", "calendar", "2024-02-01"),      # leap day
        ("2024-12-31T23:59:59.999Z", "1d", "calendar", "2024-12-31"),
        ("2025-01-01T00:00:00Z", "1M", "calendar", "2025-01-01"),
        ("1970-01-03T00:00Z", "3d", "calendar", "1970-01-01"),      # 3d counted from the epoch
        ("1970-01-04T00:00Z", "3d", "hyperliquid", "1970-01-04"),
        ("1969-12-31T23:00Z", "1w", "hyperliquid", "1969-12-25"),   # before the epoch
    ],
)
def test_known_buckets(t, name, alignment, expected):
    assert floor_time(t, name, alignment=alignment) == T(expected, tz="UTC")


def test_close_time_is_last_millisecond():
    assert close_time("2024-02-10", "1M") == T("2024-02-29T23:59:59.999", tz="UTC")
    assert close_time("2023-02-10", "1M") == T("2023-02-28T23:59:59.999", tz="UTC")
    assert close_time(1_700_000_040_000, "1m") == T(1_700_000_099_999, unit="ms", tz="UTC")
    assert next_bucket("2024-12-31T23:59:59.999Z", "1M") == T("2025-01-01", tz="UTC")
    assert next_bucket("2024-12-31T12:00Z", "1d") == T("2025-01-01", tz="UTC")


def test_results_are_utc_milliseconds():
    ts = floor_time("2025-07-24T15:00:00.123456Z", "1s")
    assert ts == T("2025-07-24T15:00:00Z") and ts.unit == "ms" and str(ts.tz) == "UTC"
    idx = floor_time(pd.DatetimeIndex(["2025-01-01T00:00:01.5Z", "2025-03-01T00:00Z"]), "1m")
    assert str(idx.dtype) == "datetime64[ms, UTC]"
    assert list(idx) == [T("2025-01-01", tz="UTC"), T("2025-03-01", tz="UTC")]


def test_non_utc_input_is_converted():
    # 2025-01-01 01:30 in UTC+2 is 2024-12-31 23:30 UTC
    t = T("2025-01-01T01:30", tz="Etc/GMT-2")
    assert floor_time(t, "1d") == T("2024-12-31", tz="UTC")
    assert floor_time("2025-01-01T01:30+02:00", "1M") == T("2024-12-01", tz="UTC")


@pytest.mark.parametrize("alignment", ALIGNMENTS)
@pytest.mark.parametrize("name", INTERVALS)
def test_bucket_range_and_count(name, alignment):
    start, end = "2023-12-20T07:13:00Z", "2024-03-05T00:00:00Z"
    if name == "1s":
        start, end = "2024-02-29T23:59:58.5Z", "2024-03-01T00:00:03Z"
    rng = bucket_range(start, end, name, alignment=alignment)
    assert len(rng) == count_buckets(start, end, name, alignment=alignment)
    assert rng[0] == floor_time(start, name, alignment=alignment)
    assert rng[0] <= T(start) < next_bucket(rng[0], name, alignment=alignment)
    assert rng[-1] < T(end) <= next_bucket(rng[-1], name, alignment=alignment)
    # consecutive: every bucket's next is the following bucket
    assert (next_bucket(rng[:-1], name, alignment=alignment) == rng[1:]).all()
    assert str(rng.dtype) == "datetime64[ms, UTC]"


def test_bucket_range_month_and_leap_year():
    rng = bucket_range("2023-11-15", "2024-03-01", "1M")
    assert list(rng.strftime("%Y-%m-%d")) == ["2023-11-01", "2023-12-01", "2024-01-01",
                                              "2024-02-01"]
    days = bucket_range("2024-02-01", "2024-03-01", "1d")
    assert len(days) == 29
    assert count_buckets("2023-02-01", "2023-03-01", "1d") == 28
    assert count_buckets("2024-01-01", "2025-01-01", "1h") == 366 * 24


@pytest.mark.parametrize("start, end", [("2025-01-02", "2025-01-01"), ("2025-01-01",
                                                                        "2025-01-01")])
def test_bucket_range_rejects_empty_or_reversed(start, end):
    with pytest.raises(InvalidTimeError, match="must be after start"):
        bucket_range(start, end, "1h")


@pytest.mark.parametrize("bad", ["yesterday-ish", "2025-13-01", True, float("nan")])
def test_unparseable_times(bad):
    with pytest.raises(InvalidTimeError):
        floor_time(bad, "1h")


@pytest.mark.parametrize("alignment", ALIGNMENTS)
@pytest.mark.parametrize("name", INTERVALS)
def test_ordinals_round_trip(name, alignment):
    ords = np.arange(-50, 50, dtype=np.int64) + 700
    ms = ordinal_to_ms(ords, name, alignment=alignment)
    assert (np.diff(ms) > 0).all()
    assert (bucket_ordinal(ms, name, alignment=alignment) == ords).all()
    assert (bucket_ordinal(ms - 1, name, alignment=alignment) == ords - 1).all()


@pytest.mark.parametrize(
    "fine, coarse, fa, ca, ok",
    [
        ("1s", "1m", "calendar", "calendar", True),
        ("1m", "1h", "calendar", "calendar", True),
        ("1h", "3d", "calendar", "calendar", True),
        ("1d", "1w", "calendar", "calendar", True),
        ("1d", "1w", "hyperliquid", "hyperliquid", True),
        ("1d", "1M", "calendar", "calendar", True),
        ("1h", "1M", "hyperliquid", "hyperliquid", True),
        ("1d", "1M", "hyperliquid", "hyperliquid", True),
        ("1d", "3d", "hyperliquid", "hyperliquid", True),
        ("1w", "1M", "calendar", "calendar", False),
        ("1w", "1M", "hyperliquid", "hyperliquid", False),
        ("3d", "1w", "calendar", "calendar", False),
        ("3d", "1M", "calendar", "calendar", False),
        ("1h", "1m", "calendar", "calendar", False),
        ("1M", "1M", "calendar", "calendar", True),
        ("1M", "1M", "hyperliquid", "calendar", False),
        ("1w", "1w", "hyperliquid", "calendar", False),
        ("8h", "12h", "calendar", "calendar", False),
        ("4h", "12h", "calendar", "calendar", True),
    ],
)
def test_tiles(fine, coarse, fa, ca, ok):
    assert tiles(fine, coarse, fine_alignment=fa, coarse_alignment=ca) is ok

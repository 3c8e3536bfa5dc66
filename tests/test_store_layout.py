"""Tests for candlekit.store.layout: names, periods, row groups, case collisions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from candlekit.errors import InvalidIntervalError, StoreError
from candlekit.intervals import INTERVALS
from candlekit.store.layout import (
    check_case_collision,
    decode_name,
    encode_name,
    interval_dirname,
    interval_from_dirname,
    is_temp_name,
    period_bounds_ms,
    period_dirname,
    period_from_dirname,
    period_kind,
    period_ordinals,
    row_group_ms,
    series_dir,
    temp_name,
)

ODD_NAMES = ["BTC", "kPEPE", "xyz:NVDA", "@107", "PURR/USDC", "hyna:ETH", "a b%c", "..", "Ünï"]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_names_round_trip_and_make_one_safe_segment(name):
    """Every name encodes to one ``key=value`` segment without separators, decodes unchanged."""
    seg = encode_name(name)
    assert "/" not in seg and ":" not in seg and "\\" not in seg
    assert decode_name(seg) == name


def test_known_encodings_match_uri_hive_encoding():
    """The encoding is urllib's quote(name, safe=''), as pyarrow's 'uri' segment encoding."""
    assert encode_name("xyz:NVDA") == "xyz%3ANVDA"
    assert encode_name("@107") == "%40107"
    assert encode_name("PURR/USDC") == "PURR%2FUSDC"
    assert encode_name("kPEPE") == "kPEPE"


@pytest.mark.parametrize("bad", ["", None, 3])
def test_empty_or_non_string_names_are_refused(bad):
    """An empty or non-string name raises StoreError."""
    with pytest.raises(StoreError, match="Invalid symbol"):
        encode_name(bad)


@pytest.mark.parametrize("interval", INTERVALS)
def test_interval_dirnames_round_trip(interval):
    """Interval directory names map back to the interval."""
    assert interval_from_dirname(interval_dirname(interval)) == interval


def test_month_and_minute_directories_differ_case_insensitively():
    """1M is spelled 1Mo so that it never collides with 1m on macOS."""
    assert interval_dirname("1M") == "1Mo"
    names = [interval_dirname(i).casefold() for i in INTERVALS]
    assert len(set(names)) == len(INTERVALS)


def test_unknown_interval_dirname_raises():
    """A directory that names no interval raises InvalidIntervalError."""
    with pytest.raises(InvalidIntervalError):
        interval_from_dirname("7m")


def test_series_dir_is_hive_style(tmp_path):
    """source=/symbol=/interval= segments, names percent-encoded."""
    assert series_dir(tmp_path, "hyperliquid", "xyz:NVDA", "1M") == (
        tmp_path / "source=hyperliquid" / "symbol=xyz%3ANVDA" / "interval=1Mo")


@pytest.mark.parametrize("interval,kind", [("1s", "month"), ("1m", "year"), ("12h", "year"),
                                           ("1d", "decade"), ("1w", "decade"),
                                           ("1M", "decade")])
def test_period_kind(interval, kind):
    """1s files span a month, 1m-12h a year, 1d and longer a decade."""
    assert period_kind(interval) == kind


@pytest.mark.parametrize("kind,time,dirname,bounds", [
    ("month", "2024-02-29T23:59:59", "period=2024-02-01", ("2024-02-01", "2024-03-01")),
    ("year", "2025-07-01", "period=2025-01-01", ("2025-01-01", "2026-01-01")),
    ("decade", "2029-12-31T23:59:59.999", "period=2020-01-01", ("2020-01-01", "2030-01-01")),
    ("decade", "1969-06-01", "period=1960-01-01", ("1960-01-01", "1970-01-01")),
])
def test_periods_hold_their_times(kind, time, dirname, bounds):
    """A time falls in the period whose bounds contain it, named by its first day."""
    ms = pd.Timestamp(time, tz="UTC").value // 10**6
    ordinal = int(period_ordinals(np.array([ms]), kind)[0])
    lo, hi = period_bounds_ms(ordinal, kind)
    assert (lo, hi) == tuple(pd.Timestamp(b, tz="UTC").value // 10**6 for b in bounds)
    assert lo <= ms < hi
    assert period_dirname(ordinal, kind) == dirname
    assert period_from_dirname(dirname, kind) == ordinal


@pytest.mark.parametrize("kind,name", [("year", "period=2025-03-01"), ("month", "2025-01-01"),
                                       ("month", "period=garbage"), ("decade", "period=2025-01-01")])
def test_period_from_dirname_rejects_other_names(kind, name):
    """Only a period's exact first day is accepted."""
    assert period_from_dirname(name, kind) is None


@pytest.mark.parametrize("interval,span_days", [("1s", 1), ("1m", 7), ("5m", 28), ("15m", 91),
                                                ("1h", None), ("1M", None)])
def test_row_group_spans(interval, span_days):
    """1s row groups span a day, 1m a week; hourly and longer use one per file."""
    expected = None if span_days is None else span_days * 86_400_000
    assert row_group_ms(interval) == expected


def test_case_collision_is_detected(tmp_path):
    """A sibling that differs only by case raises; the same name and new names pass."""
    (tmp_path / "symbol=kPEPE").mkdir()
    check_case_collision(tmp_path, "symbol=kPEPE", what="symbol")
    check_case_collision(tmp_path, "symbol=PEPE", what="symbol")
    with pytest.raises(StoreError, match="'KPEPE'.*'kPEPE'.*differs only by case"):
        check_case_collision(tmp_path, "symbol=KPEPE", what="symbol")


def test_case_collision_check_passes_for_a_missing_parent(tmp_path):
    """A parent that does not exist yet has no siblings."""
    check_case_collision(tmp_path / "nope", "symbol=BTC", what="symbol")


def test_temp_names_are_skipped_by_readers():
    """Temporary names start with '.', never end in .parquet, and are recognised."""
    name = temp_name("part-0.parquet")
    assert name.startswith(".") and not name.endswith(".parquet")
    assert is_temp_name(name)
    assert temp_name("part-0.parquet") != name
    assert not is_temp_name("part-0.parquet") and not is_temp_name(".lock")

"""Which time forms every candlekit function accepts, and how the others are refused."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from candlekit.errors import InvalidTimeError
from candlekit.timeutil import to_ms, to_timestamp

NOV1 = 1_793_491_200_000  # 2026-11-01T00:00:00Z


@pytest.mark.parametrize("value", [
    "2026-11-01", "20261101", "2026-11-01T00:00", "2026-11-01T00:00:00Z",
    "2026-11-01T00:00:00.000Z", "2026-11-01 00:00:00+00:00", "2026-11-01T02:00+02:00",
    "2026-10-31T19:00:00-05:00", "2026-11-01T01:00+0100", NOV1, np.int64(NOV1), str(NOV1),
    f" {NOV1} ", float(NOV1), dt.datetime(2026, 11, 1), dt.date(2026, 11, 1),
    dt.datetime(2026, 11, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1))),
    pd.Timestamp("2026-11-01", tz="UTC"), np.datetime64("2026-11-01T00:00"),
])
def test_every_accepted_form_of_one_instant(value):
    ts = to_timestamp(value)
    assert ts == pd.Timestamp(NOV1, unit="ms", tz="UTC") and ts.unit == "ms"
    assert to_ms(value) == NOV1


def test_iso_year_and_month_are_dates_not_milliseconds():
    assert to_timestamp("2026") == pd.Timestamp("2026-01-01", tz="UTC")
    assert to_timestamp("2026-11") == pd.Timestamp("2026-11-01", tz="UTC")


@pytest.mark.parametrize(("value", "shown"), [
    ("01/11/2026", ["'2026-11-01'", "'2026-01-11'", "ambiguous"]),
    ("13/11/2026", ["'2026-11-13'"]),
    ("Nov 1 2026", ["'2026-11-01'"]),
    ("1 November 2026 14:30", ["'2026-11-01T14:30:00Z'"]),
    ("now", ["ISO 8601"]),
    ("garbage", ["ISO 8601", "1793491200000"]),
])
def test_non_iso_strings_are_refused_with_the_iso_spelling(value, shown):
    with pytest.raises(InvalidTimeError) as err:
        to_timestamp(value)
    for text in shown:
        assert text in str(err.value)
    assert err.value.value == value


@pytest.mark.parametrize("value", [1_793_491_200, "1793491200", np.int64(1_793_491_200),
                                   1_000_000_000, 99_999_999_999, -1_000_000_000])
def test_integers_that_can_only_be_epoch_seconds_say_so(value):
    with pytest.raises(InvalidTimeError, match="looks like epoch seconds") as err:
        to_ms(value)
    if abs(int(value)) == 1_793_491_200:
        assert "1793491200000" in str(err.value) and "2026-11-01" in str(err.value)


@pytest.mark.parametrize("value", [0, 60_000, 999_999_999, 100_000_000_000, NOV1])
def test_integers_outside_the_seconds_band_are_milliseconds(value):
    assert to_ms(value) == value
    assert to_timestamp(value) == pd.Timestamp(value, unit="ms", tz="UTC")


@pytest.mark.parametrize("value", [True, float("nan"), float("inf"), None, pd.NaT, object()])
def test_non_times_are_refused(value):
    with pytest.raises(InvalidTimeError):
        to_timestamp(value)

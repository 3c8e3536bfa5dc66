"""Finding runs of missing candles, checked against the obvious set difference."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from candlekit import gaps as gaps_module
from candlekit.errors import CandleValidationError, InvalidTimeError
from candlekit.frame import empty_frame, make_frame
from candlekit.gaps import find_gaps
from candlekit.intervals import (
    INTERVALS,
    bucket_ordinal,
    bucket_range,
    next_bucket,
    ordinal_to_ms,
)

UTC = "UTC"
ALIGNED_CASES = [(iv, "calendar") for iv in INTERVALS] + [
    (iv, "hyperliquid") for iv in ("3d", "1w", "1M")]


def frame_at(interval: str, alignment: str, ords: np.ndarray) -> pd.DataFrame:
    """Flat candles at the given bucket numbers."""
    t = ordinal_to_ms(np.asarray(ords, dtype=np.int64), interval, alignment=alignment)
    n = len(t)
    one = np.ones(n)
    return make_frame(t, one, one, one, one, one, interval=interval, alignment=alignment,
                      symbol="ETH", source="test")


def first_ordinal(interval: str, alignment: str, when: str) -> int:
    return int(bucket_ordinal(np.array([pd.Timestamp(when).value // 10**6]),
                              interval, alignment=alignment)[0])


def reference_gaps(df: pd.DataFrame, start=None, end=None) -> list[tuple]:
    """Expected buckets minus present ones, grouped into runs (the slow obvious way)."""
    iv, al = df.attrs["interval"], df.attrs["alignment"]
    present = df.index
    lo = pd.Timestamp(start, tz=UTC) if start is not None else present[0]
    hi = pd.Timestamp(end, tz=UTC) if end is not None else present[-1] + pd.Timedelta(1, "ms")
    expected = bucket_range(lo, hi, iv, alignment=al)
    missing = expected.difference(present)
    ords = bucket_ordinal(missing.asi8, iv, alignment=al)
    runs, i = [], 0
    while i < len(ords):
        j = i
        while j + 1 < len(ords) and ords[j + 1] == ords[j] + 1:
            j += 1
        # [start, end): end is the open time of the bucket after the last missing one
        runs.append((missing[i], next_bucket(missing[j], iv, alignment=al), j - i + 1))
        i = j + 1
    return runs


def as_tuples(gaps: pd.DataFrame) -> list[tuple]:
    return list(zip(gaps["start"], gaps["end"], gaps["missing_candles"]))


@settings(max_examples=150, deadline=None)
@given(case=st.sampled_from(ALIGNED_CASES),
       present=st.lists(st.booleans(), min_size=1, max_size=80),
       lead=st.integers(-5, 5), tail=st.integers(-5, 5), bounded=st.booleans())
def test_matches_set_difference(case, present, lead, tail, bounded):
    interval, alignment = case
    first = first_ordinal(interval, alignment, "2024-02-20")
    df = frame_at(interval, alignment, first + np.flatnonzero(present))
    if not bounded:
        if len(df) == 0:
            assert len(find_gaps(df)) == 0
            return
        assert as_tuples(find_gaps(df)) == reference_gaps(df)
        return
    span = len(present)
    lo = ordinal_to_ms(np.array([first + lead]), interval, alignment=alignment)[0]
    hi = ordinal_to_ms(np.array([first + span + tail]), interval, alignment=alignment)[0]
    if hi <= lo:
        with pytest.raises(InvalidTimeError):
            find_gaps(df, start=int(lo), end=int(hi))
        return
    start = pd.Timestamp(int(lo), unit="ms")
    end = pd.Timestamp(int(hi), unit="ms")
    inside = df[(df.index >= start.tz_localize(UTC)) & (df.index < end.tz_localize(UTC))]
    got = find_gaps(df, start=start, end=end)
    if len(inside) == 0:
        want = [(r[0], next_bucket(r[-1], interval, alignment=alignment), len(r))
                for r in [bucket_range(start, end, interval, alignment=alignment)]]
    else:
        want = reference_gaps(inside, start, end)
    assert as_tuples(got) == want


@pytest.mark.parametrize("interval, alignment", ALIGNED_CASES)
def test_layout_and_attrs(interval, alignment):
    first = first_ordinal(interval, alignment, "2024-12-01")
    df = frame_at(interval, alignment, first + np.array([0, 1, 4, 5, 9]))
    gaps = find_gaps(df)
    assert list(gaps.columns) == ["start", "end", "missing_candles"]
    assert str(gaps["start"].dtype) == "datetime64[ms, UTC]"
    assert str(gaps["end"].dtype) == "datetime64[ms, UTC]"
    assert gaps["missing_candles"].dtype == np.int64
    assert gaps["missing_candles"].tolist() == [2, 3]
    assert gaps.attrs == {"symbol": "ETH", "interval": interval, "alignment": alignment,
                          "source": "test"}


def test_calendar_months_across_leap_february():
    df = frame_at("1M", "calendar",
                  [first_ordinal("1M", "calendar", m) for m in ("2023-12-01", "2024-04-01")])
    gaps = find_gaps(df, end="2024-06-15")
    assert as_tuples(gaps) == [
        (pd.Timestamp("2024-01-01", tz=UTC), pd.Timestamp("2024-04-01", tz=UTC), 3),
        (pd.Timestamp("2024-05-01", tz=UTC), pd.Timestamp("2024-07-01", tz=UTC), 2)]


def test_bounds_floor_start_and_exclude_end():
    first = first_ordinal("1h", "calendar", "2025-01-01")
    df = frame_at("1h", "calendar", first + np.array([2, 3]))
    gaps = find_gaps(df, start="2025-01-01T00:30", end="2025-01-01T06:00")
    assert as_tuples(gaps) == [
        (pd.Timestamp("2025-01-01T00:00", tz=UTC), pd.Timestamp("2025-01-01T02:00", tz=UTC), 2),
        (pd.Timestamp("2025-01-01T04:00", tz=UTC), pd.Timestamp("2025-01-01T06:00", tz=UTC), 2)]


def test_empty_frame_with_bounds_is_one_gap():
    df = empty_frame(symbol="BTC", interval="1w", alignment="hyperliquid", source="x")
    gaps = find_gaps(df, start="2025-01-01", end="2025-02-01")
    assert as_tuples(gaps) == [(pd.Timestamp("2024-12-26", tz=UTC),
                                pd.Timestamp("2025-02-06", tz=UTC), 6)]
    assert len(find_gaps(df)) == 0 and len(find_gaps(df, start="2025-01-01")) == 0


@pytest.mark.parametrize("capacity", [2, 4096])
def test_many_chunks_and_overflowing_chunks(monkeypatch, capacity):
    """Several parallel chunks, some with more gaps than they remember in one pass."""
    monkeypatch.setattr(gaps_module, "_MIN_CHUNK_ROWS", 16)
    monkeypatch.setattr(gaps_module, "_CHUNK_CAPACITY", capacity)
    rng = np.random.default_rng(0)
    present = rng.random(3000) < 0.7
    df = frame_at("1s", "calendar", 1_735_689_600 + np.flatnonzero(present))
    assert as_tuples(find_gaps(df)) == reference_gaps(df)


@pytest.mark.parametrize("breakage, message", [
    ("swap", "index not sorted at row 5"),
    ("duplicate", "duplicate open time at row 5"),
    ("misalign", "row 5 .* not aligned"),
    ("misalign_first", "row 0 .* not aligned"),
])
@pytest.mark.parametrize("interval", ["5m", "1M"])
def test_broken_index_raises(breakage, message, interval):
    df = frame_at(interval, "calendar", first_ordinal(interval, "calendar", "2024-01-01")
                  + np.arange(10))
    t = df.index.asi8.copy()
    if breakage == "swap":
        t[4], t[5] = t[5], t[4]
    elif breakage == "duplicate":
        t[5] = t[4]
    elif breakage == "misalign":
        t[5:] += 1000
    else:
        t += 1000
    broken = df.set_axis(pd.DatetimeIndex(t.view("datetime64[ms]"), name="time")
                         .tz_localize(UTC))
    broken.attrs = dict(df.attrs)
    with pytest.raises(CandleValidationError, match=message):
        find_gaps(broken)


def test_unknown_interval_raises():
    df = frame_at("1m", "calendar", np.arange(3))
    df.attrs.pop("interval")
    with pytest.raises(CandleValidationError, match="interval is unknown"):
        find_gaps(df)


def test_alignment_keyword_overrides_attrs():
    thursdays = frame_at("1w", "hyperliquid", np.array([2800, 2802]))
    gaps = find_gaps(thursdays)
    assert gaps["start"].iloc[0].day_name() == "Thursday"
    thursdays.attrs["alignment"] = "calendar"
    with pytest.raises(CandleValidationError, match="not aligned to 1w"):
        find_gaps(thursdays)
    assert find_gaps(thursdays, alignment="hyperliquid").equals(gaps)



def test_the_seed_convention_end_is_exclusive():
    """The seed's gap record: 1h, start 00:00, end 06:00, missing_candles 6."""
    t0 = first_ordinal("1h", "calendar", "2026-11-01")
    df = frame_at("1h", "calendar", t0 + np.array([6, 7]))
    gaps = find_gaps(df, start="2026-11-01T00:00", end="2026-11-01T08:00")
    assert as_tuples(gaps) == [(pd.Timestamp("2026-11-01T00:00", tz=UTC),
                                pd.Timestamp("2026-11-01T06:00", tz=UTC), 6)]
    # a gap between candles ends at the open time of the first candle after it
    inner = find_gaps(frame_at("1h", "calendar", t0 + np.array([0, 6])))
    assert as_tuples(inner) == [(pd.Timestamp("2026-11-01T01:00", tz=UTC),
                                 pd.Timestamp("2026-11-01T06:00", tz=UTC), 5)]
    assert (inner["end"] - inner["start"]).iloc[0] == pd.Timedelta(hours=5)


def _with(df: pd.DataFrame, row: int, column: str, value) -> pd.DataFrame:
    out = df.copy()
    out.iloc[row, out.columns.get_loc(column)] = value
    return out


@pytest.mark.parametrize(("column", "value", "check"), [
    ("high", np.nan, "price is NaN"), ("low", np.nan, "price is NaN"),
    ("high", np.inf, "price is infinite"), ("low", -np.inf, "price <= 0"),
    ("low", 5.0, "low > high"), ("low", 0.0, "price <= 0"),
    ("volume", -1.0, "volume < 0"), ("volume", np.inf, "volume is infinite"),
    ("volume", np.nan, "volume < 0 or NaN"),
])
@pytest.mark.parametrize("interval", ["1m", "1M"])
def test_frames_that_break_the_schema_are_refused(column, value, check, interval):
    df = frame_at(interval, "calendar", first_ordinal(interval, "calendar", "2024-01-01")
                  + np.array([0, 1, 2, 5, 6]))
    with pytest.raises(CandleValidationError, match="Cannot find gaps") as err:
        find_gaps(_with(df, 3, column, value))
    assert check in str(err.value)
    assert 3 in err.value.failures["position"].tolist()


@pytest.mark.parametrize("capacity", [2, 4096])
def test_a_broken_candle_in_any_parallel_chunk_is_found(monkeypatch, capacity):
    monkeypatch.setattr(gaps_module, "_MIN_CHUNK_ROWS", 16)
    monkeypatch.setattr(gaps_module, "_CHUNK_CAPACITY", capacity)
    df = frame_at("1s", "calendar", 1_735_689_600 + np.arange(3000))
    for row in (0, 1499, 2999):
        with pytest.raises(CandleValidationError, match=f"row {row} "):
            find_gaps(_with(df, row, "high", 0.5))


def test_text_columns_get_a_clear_error_not_a_numba_dump():
    df = frame_at("1h", "calendar", np.arange(5) + 480_000)
    df["volume"] = df["volume"].astype(str)
    with pytest.raises(CandleValidationError, match="volume is .*text.*conform") as err:
        find_gaps(df)
    assert "numba" not in str(err.value).lower() and "Typing" not in str(err.value)


def test_a_bare_index_frame_is_still_scanned():
    idx = frame_at("1h", "calendar", np.array([480_000, 480_003])).index
    bare = pd.DataFrame(index=idx)
    bare.attrs = {"interval": "1h", "alignment": "calendar"}
    assert find_gaps(bare)["missing_candles"].tolist() == [2]

"""Resampling candles to coarser intervals, checked against a slow obvious reference."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from candlekit.errors import CandleValidationError, InvalidIntervalError, ResampleError
from candlekit.frame import empty_frame, make_frame
from candlekit.intervals import (
    bucket_ordinal,
    count_buckets,
    ordinal_to_ms,
    parse_interval,
    tiles,
)
from candlekit.resample import resample
from candlekit.schema import validate

# (fine, coarse, fine alignment, coarse alignment): every one of them tiles.
PAIRS = [
    ("1s", "1m", "calendar", "calendar"),
    ("1m", "5m", "calendar", "calendar"),
    ("1m", "1h", "hyperliquid", "hyperliquid"),
    ("5m", "15m", "calendar", "calendar"),
    ("3m", "1h", "calendar", "calendar"),
    ("1h", "4h", "hyperliquid", "hyperliquid"),
    ("1h", "1d", "calendar", "calendar"),
    ("1h", "3d", "calendar", "calendar"),
    ("8h", "1w", "calendar", "calendar"),
    ("8h", "1w", "hyperliquid", "hyperliquid"),
    ("1d", "3d", "hyperliquid", "hyperliquid"),
    ("1d", "1w", "calendar", "calendar"),
    ("1d", "1w", "hyperliquid", "hyperliquid"),
    ("1d", "1w", "hyperliquid", "calendar"),
    ("1d", "1M", "calendar", "calendar"),
    ("1d", "1M", "hyperliquid", "hyperliquid"),
    ("12h", "1M", "calendar", "calendar"),
    ("3d", "1M", "hyperliquid", "hyperliquid"),
    ("1h", "1M", "hyperliquid", "hyperliquid"),
    ("1w", "1w", "calendar", "calendar"),
    ("1M", "1M", "calendar", "calendar"),
    ("1M", "1M", "hyperliquid", "hyperliquid"),
]
# Starts near a leap day and a year end.
STARTS = ["2024-01-27", "2024-02-26T22:00", "2024-12-28", "2025-07-21T11:28"]


def random_frame(fine: str, alignment: str, start: str, present: np.ndarray, seed: int, *,
                 q_null: np.ndarray | None = None, n_null: np.ndarray | None = None,
                 closed: np.ndarray | None = None) -> pd.DataFrame:
    """Candles at the fine buckets from ``start`` where ``present`` is True."""
    iv = parse_interval(fine)
    first = int(bucket_ordinal(np.array([pd.Timestamp(start).value // 10**6]), iv,
                               alignment=alignment)[0])
    ords = first + np.flatnonzero(present)
    n = len(ords)
    rng = np.random.default_rng(seed)
    o = 100 + rng.random(n) * 10
    c = 100 + rng.random(n) * 10
    h = np.maximum(o, c) + rng.random(n)
    lo = np.minimum(o, c) - rng.random(n)
    q = rng.random(n) * 1000
    trades = rng.integers(0, 50, n).astype(float)
    if q_null is not None:
        q[q_null[:n]] = np.nan
    if n_null is not None:
        trades[n_null[:n]] = np.nan
    return make_frame(ordinal_to_ms(ords, iv, alignment=alignment), o, h, lo, c,
                      rng.random(n) * 5, quote_volume=q, trades=trades,
                      closed=True if closed is None else closed[:n], symbol="BTC",
                      interval=fine, alignment=alignment, source="synthetic")


def reference(df: pd.DataFrame, coarse: str, coarse_al: str) -> pd.DataFrame:
    """The obvious slow way: group rows by the coarse bucket number with pandas."""
    fine, fine_al = df.attrs["interval"], df.attrs["alignment"]
    c_iv = parse_interval(coarse)
    key = bucket_ordinal(df.index.asi8, c_iv, alignment=coarse_al)
    g = df.groupby(key, sort=True)
    ords = np.asarray(sorted(set(key.tolist())), dtype=np.int64)
    opens = ordinal_to_ms(ords, c_iv, alignment=coarse_al)
    nexts = ordinal_to_ms(ords + 1, c_iv, alignment=coarse_al)
    expected = np.array([count_buckets(int(a), int(b), fine, alignment=fine_al)
                         for a, b in zip(opens, nexts)], dtype=np.int64)
    counts = g.size().to_numpy()
    q_unknown = df["quote_volume"].isna().groupby(key).any().to_numpy()
    n_unknown = df["trades"].isna().groupby(key).any().to_numpy()
    q_sum = df["quote_volume"].fillna(0).groupby(key).sum().to_numpy(dtype=float)
    n_sum = df["trades"].fillna(0).groupby(key).sum().to_numpy(dtype=np.int64)
    out = pd.DataFrame({
        "open": g["open"].first().to_numpy(),
        "high": g["high"].max().to_numpy(),
        "low": g["low"].min().to_numpy(),
        "close": g["close"].last().to_numpy(),
        "volume": g["volume"].sum().to_numpy(),
        "quote_volume": pd.array(np.where(q_unknown, np.nan, q_sum), dtype="Float64"),
        "trades": pd.arrays.IntegerArray(n_sum, n_unknown),
        "closed": g["closed"].all().to_numpy() & (counts == expected),
        "constituents": counts.astype(np.int64),
        "expected_constituents": expected,
    }, index=pd.DatetimeIndex(opens.view("datetime64[ms]"), name="time").tz_localize("UTC"))
    return out


def assert_same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_index_equal(got.index, want.index)
    for col in ("open", "high", "low", "close", "closed", "constituents",
                "expected_constituents", "trades"):
        pd.testing.assert_series_equal(got[col], want[col], check_names=False,
                                       obj=col)
    for col in ("volume", "quote_volume"):  # summation order may differ
        pd.testing.assert_series_equal(got[col], want[col], check_names=False, rtol=1e-12,
                                       obj=col)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pair=st.sampled_from(PAIRS), start=st.sampled_from(STARTS),
       present=st.lists(st.booleans(), min_size=1, max_size=150),
       nulls=st.lists(st.integers(0, 3), max_size=150), seed=st.integers(0, 2**16))
def test_matches_reference(pair, start, present, nulls, seed):
    """Random gaps, unknown quote volume/trades and open candles, against pandas groupby."""
    fine, coarse, fine_al, coarse_al = pair
    present = np.array(present)
    flags = np.zeros(len(present), dtype=int)
    flags[: len(nulls)] = nulls[: len(present)]
    df = random_frame(fine, fine_al, start, present, seed, q_null=flags == 1,
                      n_null=flags == 2, closed=flags != 3)
    got = resample(df, coarse, alignment=coarse_al)
    assert_same(got, reference(df, coarse, coarse_al))
    assert got.attrs == {"symbol": "BTC", "interval": coarse, "alignment": coarse_al,
                         "source": "synthetic"}
    validate(got)


@pytest.mark.parametrize("fine, coarse, fine_al, coarse_al", PAIRS)
def test_complete_buckets_are_closed(fine, coarse, fine_al, coarse_al):
    """Gap-free closed input: every bucket but the edge ones is complete and closed."""
    df = random_frame(fine, fine_al, "2024-01-01", np.ones(400, dtype=bool), 1)
    got = resample(df, coarse, alignment=coarse_al)
    complete = got["constituents"] == got["expected_constituents"]
    assert got["closed"].equals(complete)
    assert complete.iloc[1:-1].all()
    assert got["constituents"].sum() == len(df)
    assert_same(got, reference(df, coarse, coarse_al))


def test_leap_february_month():
    """1d→1M over 2024: February has 29 days, and 1m→1M expects days × 1440."""
    df = random_frame("1d", "calendar", "2024-01-01", np.ones(91, dtype=bool), 2)
    got = resample(df, "1M")
    assert got.index.strftime("%Y-%m").tolist() == ["2024-01", "2024-02", "2024-03"]
    assert got["expected_constituents"].tolist() == [31, 29, 31]
    assert got["closed"].all()
    feb = df.loc["2024-02"]
    assert got.loc["2024-02-01", "open"] == feb["open"].iloc[0]
    assert got.loc["2024-02-01", "close"] == feb["close"].iloc[-1]
    minutes = random_frame("1m", "calendar", "2024-02-29T23:30", np.ones(60, dtype=bool), 3)
    got = resample(minutes, "1M")
    assert got["expected_constituents"].tolist() == [29 * 1440, 31 * 1440]
    assert got["constituents"].tolist() == [30, 30]
    assert not got["closed"].any()


def test_hyperliquid_month_is_thirty_days():
    df = random_frame("1h", "hyperliquid", "2025-05-12", np.ones(24 * 31, dtype=bool), 4)
    got = resample(df, "1M")
    assert got.index.strftime("%Y-%m-%d").tolist() == ["2025-05-12", "2025-06-11"]
    assert got["expected_constituents"].tolist() == [720, 720]
    assert got["constituents"].tolist() == [720, 24]


def test_weeks_straddle_the_year_end():
    df = random_frame("1d", "calendar", "2024-12-30", np.ones(7, dtype=bool), 5)
    got = resample(df, "1w")
    assert len(got) == 1 and got.index[0] == pd.Timestamp("2024-12-30", tz="UTC")
    got = resample(df, "1w", alignment="hyperliquid")  # Thursday weeks
    assert got.index.strftime("%a %Y-%m-%d").tolist() == ["Thu 2024-12-26", "Thu 2025-01-02"]
    assert got["constituents"].tolist() == [3, 4]


def test_target_alignment_defaults_to_source():
    df = random_frame("1d", "hyperliquid", "2025-01-01", np.ones(20, dtype=bool), 6)
    assert resample(df, "1w").index[0].day_name() == "Thursday"
    assert resample(df, "1w", alignment="calendar").index[0].day_name() == "Monday"


def test_unknown_values_propagate_and_open_candle_keeps_bucket_open():
    df = random_frame("1m", "calendar", "2025-01-01", np.ones(10, dtype=bool), 7,
                      q_null=np.arange(10) == 2, n_null=np.arange(10) == 7,
                      closed=np.arange(10) != 9)
    got = resample(df, "5m")
    assert got["quote_volume"].isna().tolist() == [True, False]
    assert got["trades"].isna().tolist() == [False, True]
    assert got["closed"].tolist() == [True, False]
    assert got["quote_volume"].iloc[1] == pytest.approx(df["quote_volume"].iloc[5:].sum())


def test_missing_constituent_keeps_bucket_open_and_empty_buckets_are_absent():
    present = np.ones(30, dtype=bool)
    present[3] = False  # one minute missing in the first 5m bucket
    present[10:20] = False  # two whole 5m buckets missing
    df = random_frame("1m", "calendar", "2025-01-01", present, 8)
    got = resample(df, "5m")
    assert got.index.strftime("%H:%M").tolist() == ["00:00", "00:05", "00:20", "00:25"]
    assert got["constituents"].tolist() == [4, 5, 5, 5]
    assert got["closed"].tolist() == [False, True, True, True]
    complete = got[got.constituents == got.expected_constituents]
    assert len(complete) == 3


def test_empty_frame():
    got = resample(empty_frame(symbol="ETH", interval="1m", source="x"), "1h")
    assert len(got) == 0
    assert list(got.columns)[-2:] == ["constituents", "expected_constituents"]
    assert got.attrs["interval"] == "1h" and got.attrs["symbol"] == "ETH"
    validate(got)


@pytest.mark.parametrize("rows", [200_000])
def test_large_buckets_split_across_threads(rows):
    """Buckets larger than a parallel task are cut in pieces and merged back exactly."""
    present = np.ones(rows, dtype=bool)
    present[100_000] = False
    flags = np.zeros(rows, dtype=bool)
    flags[150_001] = True
    df = random_frame("1s", "calendar", "2025-03-01", present, 9, q_null=flags,
                      closed=~np.roll(flags, 5))
    for coarse in ("1d", "1M"):
        assert_same(resample(df, coarse), reference(df, coarse, "calendar"))
    bad = df.index.asi8.copy()
    bad[170_000], bad[170_001] = bad[170_001], bad[170_000]
    with pytest.raises(CandleValidationError, match="not sorted at row 170001"):
        resample(df.set_axis(pd.DatetimeIndex(bad.view("datetime64[ms]"), name="time")
                             .tz_localize("UTC")), "1d")


# --- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("fine, fine_al, coarse, coarse_al", [
    ("1h", "calendar", "1m", "calendar"),
    ("1w", "calendar", "1M", "calendar"),
    ("1w", "hyperliquid", "1M", "hyperliquid"),
    ("3d", "calendar", "1w", "calendar"),
    ("1w", "calendar", "1w", "hyperliquid"),
    ("1M", "hyperliquid", "1M", "calendar"),
    ("3d", "hyperliquid", "1M", "calendar"),
])
def test_refuses_what_does_not_tile(fine, fine_al, coarse, coarse_al):
    assert not tiles(fine, coarse, fine_alignment=fine_al, coarse_alignment=coarse_al)
    df = random_frame(fine, fine_al, "2024-03-01", np.ones(3, dtype=bool), 10)
    with pytest.raises(ResampleError) as info:
        resample(df, coarse, alignment=coarse_al)
    msg = str(info.value)
    assert f"Cannot resample {fine} ({fine_al})" in msg and "Targets that work" in msg
    assert fine in msg.split("Targets that work")[1]  # the same interval always works


def test_finer_target_says_candles_cannot_be_split():
    df = random_frame("1h", "calendar", "2024-03-01", np.ones(3, dtype=bool), 11)
    with pytest.raises(ResampleError, match="finer than the source interval 1h"):
        resample(df, "5m")


def test_invalid_target_interval():
    df = random_frame("1h", "calendar", "2024-03-01", np.ones(3, dtype=bool), 12)
    with pytest.raises(InvalidIntervalError):
        resample(df, "45m")


def test_frame_without_interval():
    df = random_frame("1h", "calendar", "2024-03-01", np.ones(3, dtype=bool), 13)
    df.attrs.pop("interval")
    with pytest.raises(CandleValidationError, match="interval is unknown"):
        resample(df, "1d")


def _with_times(df: pd.DataFrame, ms: np.ndarray) -> pd.DataFrame:
    out = df.set_axis(pd.DatetimeIndex(ms.view("datetime64[ms]"), name="time")
                      .tz_localize("UTC"))
    out.attrs = dict(df.attrs)
    return out


@pytest.mark.parametrize("coarse", ["1h", "1M"])
@pytest.mark.parametrize("breakage, message", [
    ("swap", "index not sorted at row 5"),
    ("duplicate", "duplicate open time at row 5"),
    ("misalign", "row 5 .* not aligned to 1m"),
    ("misalign_first", "row 0 .* not aligned to 1m"),
])
def test_broken_index_raises(coarse, breakage, message):
    df = random_frame("1m", "calendar", "2024-03-01", np.ones(20, dtype=bool), 14)
    t = df.index.asi8.copy()
    if breakage == "swap":
        t[4], t[5] = t[5], t[4]
    elif breakage == "duplicate":
        t[5] = t[4]
    elif breakage == "misalign":
        t[5:] += 30_000
    else:
        t += 1
    with pytest.raises(CandleValidationError, match=message):
        resample(_with_times(df, t), coarse)


def test_misaligned_month_candles_raise():
    df = random_frame("1M", "calendar", "2024-01-01", np.ones(3, dtype=bool), 15)
    t = df.index.asi8.copy()
    t[1] += 86_400_000
    with pytest.raises(CandleValidationError, match="row 1 .* not aligned to 1M"):
        resample(_with_times(df, t), "1M")


def _broken(df: pd.DataFrame, row: int, column: str, value) -> pd.DataFrame:
    out = df.copy()
    out.iloc[row, out.columns.get_loc(column)] = value
    return out


@pytest.mark.parametrize(("column", "value", "check"), [
    ("high", np.nan, "price is NaN"), ("low", np.nan, "price is NaN"),
    ("high", np.inf, "price is infinite"), ("low", -np.inf, "price"),
    ("low", 1e9, "low > high"), ("high", 1.0, "high < max(open, close)"),
    ("low", 0.0, "price <= 0"), ("volume", -1.0, "volume < 0"),
    ("volume", np.inf, "volume is infinite"), ("volume", np.nan, "volume < 0 or NaN"),
])
@pytest.mark.parametrize("coarse", ["1h", "1M"])
def test_frames_that_break_the_schema_are_refused(column, value, check, coarse):
    df = random_frame("1m", "calendar", "2025-01-31T22:00", np.ones(300, dtype=bool), 3)
    for row in (0, 137, 299):  # a bucket's first row, an inner row, the very last
        with pytest.raises(CandleValidationError, match="Cannot resample") as err:
            resample(_broken(df, row, column, value), coarse)
        assert check in str(err.value) and f"row {row} " in str(err.value)
        assert row in err.value.failures["position"].tolist()


@pytest.mark.parametrize("column", ["open", "close"])
@pytest.mark.parametrize("value", [np.nan, np.inf, 1e9])
def test_open_and_close_are_checked_where_they_are_used(column, value):
    df = random_frame("1m", "calendar", "2025-01-01", np.ones(120, dtype=bool), 4)
    row = 0 if column == "open" else 59  # the first open and last close of 00:00-01:00
    with pytest.raises(CandleValidationError, match="Cannot resample"):
        resample(_broken(df, row, column, value), "1h")


def test_a_broken_candle_in_a_bucket_split_across_threads_is_found():
    df = random_frame("1s", "calendar", "2025-03-01", np.ones(200_000, dtype=bool), 9)
    with pytest.raises(CandleValidationError, match="row 170001 "):
        resample(_broken(df, 170_001, "low", -2.0), "1d")


@pytest.mark.parametrize("column", ["open", "volume", "trades", "closed"])
def test_text_columns_get_a_clear_error_not_a_numba_dump(column):
    df = random_frame("1m", "calendar", "2025-01-01", np.ones(10, dtype=bool), 5)
    df[column] = df[column].astype(str)
    with pytest.raises(CandleValidationError, match=f"{column} is .*text.*conform") as err:
        resample(df, "5m")
    assert "numba" not in str(err.value).lower()

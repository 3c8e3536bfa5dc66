"""Candles from trades, checked against an independent pandas groupby and the resampler."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from candlekit.errors import FormatError, InvalidIntervalError, InvalidTimeError
from candlekit.resample import resample
from candlekit.schema import validate
from candlekit.trades import _stable_order, candles_from_trades

T0 = pd.Timestamp("2024-02-26T21:17:03.250Z")  # near a leap day, mid-week, mid-minute
LATE = "2100-01-01"
# interval -> time span of the random trades (a few dozen buckets, some empty)
SPANS = {"1s": "3min", "1m": "3h", "1h": "5D", "1d": "90D", "3d": "200D", "1w": "400D",
         "1M": "1500D"}


def bucket_key(times: pd.Series, interval: str, alignment: str) -> tuple[pd.Series, pd.Series]:
    """Open time and next open time of each trade's bucket, with pandas only."""
    naive = times.dt.tz_convert("UTC").dt.tz_localize(None)
    if interval == "1w":
        key = naive.dt.to_period("W-SUN" if alignment == "calendar" else "W-WED").dt.start_time
        nxt = key + pd.Timedelta("7D")
    elif interval == "1M" and alignment == "calendar":
        key = naive.dt.to_period("M").dt.start_time
        nxt = key + pd.DateOffset(months=1)
    else:
        step = pd.Timedelta("30D") if interval == "1M" else pd.Timedelta(
            interval.replace("m", "min").replace("d", "D"))
        key = naive.dt.floor(step)  # ticks floor from the epoch
        nxt = key + step
    return key.dt.tz_localize("UTC"), nxt.dt.tz_localize("UTC")


def reference(trades: pd.DataFrame, interval: str, alignment: str, now) -> pd.DataFrame:
    """The obvious slow way: stable sort by time, then groupby the pandas bucket key."""
    df = trades.sort_values("time", kind="stable").reset_index(drop=True)
    times = pd.to_datetime(df["time"], unit="ms", utc=True) if df["time"].dtype.kind == "i" \
        else df["time"]
    key, nxt = bucket_key(times, interval, alignment)
    df = df.assign(key=key, nxt=nxt, pv=df["price"] * df["size"])
    out = df.groupby("key", sort=True).agg(
        open=("price", "first"), high=("price", "max"), low=("price", "min"),
        close=("price", "last"), volume=("size", "sum"), quote_volume=("pv", "sum"),
        trades=("price", "size"), nxt=("nxt", "first"))
    now = pd.Timestamp(now, unit="ms") if isinstance(now, int) else pd.Timestamp(now)
    now = now.tz_localize("UTC") if now.tzinfo is None else now
    out["closed"] = out.pop("nxt") - pd.Timedelta("1ms") < now
    return out


def assert_matches(got: pd.DataFrame, want: pd.DataFrame, *, closed: bool = True) -> None:
    assert got.index.asi8.tolist() == (want.index.as_unit("ms").asi8.tolist())
    for c in ("open", "high", "low", "close"):
        assert got[c].tolist() == want[c].tolist(), c
    np.testing.assert_allclose(got["volume"].to_numpy(), want["volume"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(got["quote_volume"].to_numpy(dtype=float),
                               want["quote_volume"].to_numpy(), rtol=1e-12)
    assert got["trades"].tolist() == want["trades"].tolist()
    if closed:
        assert got["closed"].tolist() == want["closed"].tolist()


def random_trades(interval: str, n: int, seed: int) -> pd.DataFrame:
    """Unsorted trades with many ties in time and price, times as UTC datetimes."""
    rng = np.random.default_rng(seed)
    span_ms = pd.Timedelta(SPANS[interval]).value // 10**6
    # clustered times: some buckets empty, many trades at one millisecond
    centres = rng.integers(0, span_ms, max(n // 20, 1))
    ms = centres[rng.integers(0, len(centres), n)] + rng.integers(0, 3, n) * (
        span_ms // 1000 if interval == "1s" else 1)
    ms = np.clip(ms, 0, span_ms - 1) + T0.value // 10**6
    price = np.round(100 + rng.standard_normal(n), 1)  # repeated prices
    size = rng.exponential(2.0, n)
    size[rng.random(n) < 0.05] = 0.0
    return pd.DataFrame({"time": pd.to_datetime(ms, unit="ms", utc=True), "price": price,
                         "size": size})


@pytest.mark.parametrize("alignment", ["calendar", "hyperliquid"])
@pytest.mark.parametrize("interval", list(SPANS))
def test_matches_pandas_groupby(interval, alignment):
    trades = random_trades(interval, 4000, seed=len(interval) * 7 + len(alignment))
    last = trades["time"].max()
    # now inside the last bucket: it must be open, every earlier one closed
    now = last + pd.Timedelta("1ms")
    got = candles_from_trades(trades, interval, alignment=alignment, now=now, symbol="BTC")
    want = reference(trades, interval, alignment, now)
    assert len(got) > 5
    assert_matches(got, want)
    assert not got["closed"].iloc[-1]
    assert got["closed"].iloc[:-1].all()
    assert got.attrs == {"symbol": "BTC", "interval": interval, "alignment": alignment,
                         "source": "trades"}


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(st.integers(0, 200_000), st.sampled_from([1.0, 2.0, 2.5, 7.0]),
                               st.sampled_from([0.0, 0.5, 1.0, 3.0])), min_size=1, max_size=60),
       interval=st.sampled_from(["1s", "1m"]))
def test_ties_and_order_match_reference(rows, interval):
    ms, price, size = (np.array(x) for x in zip(*rows))
    trades = pd.DataFrame({"time": ms.astype(np.int64) + 1_700_000_000_000, "price": price,
                           "size": size})
    got = candles_from_trades(trades, interval, now=LATE)
    assert_matches(got, reference(trades, interval, "calendar", LATE))


def test_first_and_last_at_one_millisecond_keep_input_order():
    t = [5_000, 1_000, 1_000, 1_000, 5_000]
    trades = pd.DataFrame({"time": t, "price": [9.0, 3.0, 1.0, 2.0, 8.0], "size": 1.0})
    df = candles_from_trades(trades, "1m", now=LATE)
    assert df[["open", "high", "low", "close"]].iloc[0].tolist() == [3.0, 9.0, 1.0, 8.0]
    reverse = candles_from_trades(trades.iloc[::-1], "1m", now=LATE)
    # reversed rows: 2, 1, 3 at 1 s then 8, 9 at 5 s
    assert reverse[["open", "close"]].iloc[0].tolist() == [2.0, 9.0]


@pytest.mark.parametrize("fine, coarse, alignment", [
    ("1m", "1h", "calendar"), ("1s", "1m", "calendar"), ("1m", "1d", "hyperliquid"),
    ("1h", "1w", "calendar"), ("1h", "1w", "hyperliquid"), ("1d", "1M", "calendar"),
    ("1d", "1M", "hyperliquid")])
def test_resampling_fine_candles_gives_coarse_candles(fine, coarse, alignment):
    rng = np.random.default_rng(3)
    fine_ms = pd.Timedelta(fine.replace("m", "min").replace("d", "D")).value // 10**6
    n = 60_000
    start = T0.value // 10**6
    ms = start + np.sort(rng.integers(0, fine_ms * n // 20, n))  # ~20 trades per bucket
    trades = pd.DataFrame({"time": ms, "price": 50 + rng.random(n), "size": rng.random(n)})
    now = int(ms[-1]) + 1
    coarse_direct = candles_from_trades(trades, coarse, alignment=alignment, now=now)
    via_fine = resample(candles_from_trades(trades, fine, alignment=alignment, now=now), coarse)
    via_fine = via_fine.drop(columns=["constituents", "expected_constituents"])
    assert_matches(via_fine, coarse_direct, closed=False)
    # every fine bucket has trades, so closedness agrees except in the first coarse bucket,
    # where trades start mid-bucket: the resampler sees missing fine candles
    assert via_fine["closed"].iloc[1:].tolist() == coarse_direct["closed"].iloc[1:].tolist()
    assert coarse_direct["closed"].iloc[:-1].all() and not coarse_direct["closed"].iloc[-1]
    assert len(coarse_direct) >= 3


def test_resampling_sparse_trades_gives_the_same_values():
    rng = np.random.default_rng(11)
    ms = T0.value // 10**6 + rng.integers(0, 86_400_000, 300)  # many empty minutes
    trades = pd.DataFrame({"time": ms, "price": 10 + rng.random(300), "size": rng.random(300)})
    direct = candles_from_trades(trades, "1h", now=LATE)
    via = resample(candles_from_trades(trades, "1m", now=LATE), "1h")
    for c in ("open", "high", "low", "close", "trades"):
        assert via[c].tolist() == direct[c].tolist()
    np.testing.assert_allclose(via["volume"], direct["volume"], rtol=1e-12)
    # the resampler cannot know the empty minutes had no trades; the trades can
    assert direct["closed"].all() and not via["closed"].all()


def test_result_validates_and_has_canonical_dtypes():
    df = candles_from_trades(random_trades("1m", 2000, 5), "1m", now=LATE, symbol="ETH",
                             source="my-trades")
    assert validate(df) is df
    assert str(df.index.dtype) == "datetime64[ms, UTC]" and df.index.name == "time"
    assert str(df["quote_volume"].dtype) == "Float64" and str(df["trades"].dtype) == "Int64"
    assert df.attrs["source"] == "my-trades" and df.attrs["symbol"] == "ETH"


def test_time_encodings_agree():
    trades = random_trades("1h", 3000, 8)
    want = candles_from_trades(trades, "1h", now=LATE)
    variants = [
        trades.assign(time=trades["time"].dt.as_unit("ns")),
        trades.assign(time=trades["time"].dt.as_unit("us").dt.tz_localize(None)),
        trades.assign(time=trades["time"].dt.tz_convert("America/New_York")),
        trades.assign(time=trades["time"].dt.as_unit("ms").astype("int64")),
        trades.assign(time=trades["time"].dt.as_unit("ms").astype("int64").astype(float)),
        {"time": trades["time"].to_numpy(), "price": trades["price"].to_numpy(),
         "size": trades["size"].to_numpy()},
        trades.set_index("time"),
    ]
    for v in variants:
        got = candles_from_trades(v, "1h", now=LATE)
        pd.testing.assert_frame_equal(got, want)


def test_custom_column_names_and_symbol_from_attrs():
    trades = pd.DataFrame({"ts": [0, 30_000, 61_000], "px": [1.0, 2.0, 3.0],
                           "qty": [1.0, 1.0, 2.0]})
    trades.attrs["symbol"] = "SOL"
    df = candles_from_trades(trades, "1m", time="ts", price="px", size="qty", now=LATE)
    assert df.attrs["symbol"] == "SOL"
    assert df["close"].tolist() == [2.0, 3.0]
    assert df["quote_volume"].tolist() == [3.0, 6.0]
    assert df["trades"].tolist() == [2, 1]


def test_no_flat_candles_are_invented():
    trades = pd.DataFrame({"time": [0, 10 * 60_000], "price": [1.0, 2.0], "size": [1.0, 1.0]})
    df = candles_from_trades(trades, "1m", now=LATE)
    assert df.index.asi8.tolist() == [0, 600_000]


def test_closedness_follows_now():
    trades = pd.DataFrame({"time": [0, 60_000, 119_999], "price": 1.0, "size": 1.0})
    at_boundary = candles_from_trades(trades, "1m", now=120_000)
    assert at_boundary["closed"].tolist() == [True, True]
    holding_now = candles_from_trades(trades.iloc[:2], "1m", now=60_001)
    assert holding_now["closed"].tolist() == [True, False]


def test_default_now_is_the_current_time():
    today = pd.Timestamp.now(tz="UTC").floor("D")  # its 1d bucket holds the present
    trades = pd.DataFrame({"time": [pd.Timestamp("2020-01-01", tz="UTC"), today],
                           "price": [1.0, 2.0], "size": [1.0, 1.0]})
    df = candles_from_trades(trades, "1d")
    assert df["closed"].tolist() == [True, False]
    with pytest.raises(InvalidTimeError, match="future"):
        candles_from_trades(trades.assign(time=[today, today + pd.Timedelta("1D")]), "1d")


def test_empty_trades_give_an_empty_frame():
    trades = pd.DataFrame({"time": pd.to_datetime([], utc=True), "price": [], "size": []})
    df = candles_from_trades(trades, "1h", symbol="BTC", now=LATE)
    assert len(df) == 0 and validate(df) is df
    assert df.attrs["interval"] == "1h" and df.attrs["symbol"] == "BTC"


def test_trades_from_the_future_raise():
    trades = pd.DataFrame({"time": [0, 60_000], "price": 1.0, "size": 1.0})
    with pytest.raises(InvalidTimeError, match="future.*row 1"):
        candles_from_trades(trades, "1m", now=60_000)


@pytest.mark.parametrize("column, values, match", [
    ("price", [1.0, 0.0, 2.0], "'price' that is not positive.*row 1"),
    ("price", [1.0, -3.0, 2.0], "'price' that is not positive.*row 1"),
    ("price", [1.0, 2.0, np.nan], "'price' that is not positive.*row 2"),
    ("size", [1.0, -0.1, 2.0], "'size' that is not zero or more.*row 1"),
    ("size", [np.nan, 1.0, 2.0], "'size' that is not zero or more.*row 0"),
    ("price", ["a", "b", "c"], "not numeric"),
])
def test_bad_values_raise(column, values, match):
    trades = pd.DataFrame({"time": [0, 1, 2], "price": 1.0, "size": 1.0})
    trades[column] = values
    with pytest.raises(FormatError, match=match):
        candles_from_trades(trades, "1m", now=LATE)


def test_missing_times_raise():
    trades = pd.DataFrame({"time": pd.to_datetime(["2025-01-01", None], utc=True),
                           "price": 1.0, "size": 1.0})
    with pytest.raises(FormatError, match="missing time.*row 1"):
        candles_from_trades(trades, "1m", now=LATE)
    with pytest.raises(FormatError, match="missing or infinite.*row 1"):
        candles_from_trades(trades.assign(time=[0.0, np.nan]), "1m", now=LATE)


def test_missing_column_names_the_columns():
    trades = pd.DataFrame({"ts": [0], "price": [1.0], "size": [1.0]})
    with pytest.raises(FormatError, match=r"No time column 'time'.*\['ts', 'price', 'size'\]"
                       r".*time='<column name>'"):
        candles_from_trades(trades, "1m", now=LATE)
    with pytest.raises(FormatError, match="No size column 'qty'"):
        candles_from_trades(trades, "1m", time="ts", size="qty", now=LATE)


def test_columns_of_different_lengths_raise():
    with pytest.raises(FormatError, match="different lengths"):
        candles_from_trades({"time": [0, 1], "price": [1.0], "size": [1.0, 1.0]}, "1m",
                            now=LATE)


def test_bad_interval_raises():
    trades = pd.DataFrame({"time": [0], "price": [1.0], "size": [1.0]})
    with pytest.raises(InvalidIntervalError):
        candles_from_trades(trades, "7m", now=LATE)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(-2**40, 2**40), max_size=200), st.booleans())
def test_stable_order_is_a_stable_argsort(values, huge):
    t = np.array(values, dtype=np.int64)
    if huge and len(t) > 1:  # keys would overflow: the plain stable argsort is used
        t[0] = np.iinfo(np.int64).max // 2
        t[-1] = -(np.iinfo(np.int64).max // 2)
    if len(t):
        assert _stable_order(t).tolist() == np.argsort(t, kind="stable").tolist()

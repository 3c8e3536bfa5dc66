"""The synthetic market: valid, deterministic, range-independent, realistic, clock-aware."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from candlekit import synthetic
from candlekit.errors import InvalidIntervalError, InvalidTimeError, ResampleError
from candlekit.intervals import ALIGNMENTS, INTERVALS, bucket_range, next_bucket
from candlekit.resample import resample
from candlekit.schema import validate
from candlekit.synthetic import SyntheticMarket, coin_profile, synthetic_candles

COARSE = [iv for iv in INTERVALS if iv not in ("1s", "1m")]
# a range whose first and last buckets are partial for every interval, per base
RANGES = {"1m": ("2025-01-30T05:17:00Z", "2025-03-04T19:01:00Z"),
          "1s": ("2025-03-01T05:17:03Z", "2025-03-01T09:01:31Z")}
PRICE_COLS = ["open", "high", "low", "close"]


def _base_for(iv: str) -> str:
    return "1s" if iv == "1s" else "1m"


@pytest.mark.parametrize("alignment", ALIGNMENTS)
@pytest.mark.parametrize("interval", INTERVALS)
def test_every_bucket_of_the_range_is_there_and_valid(interval, alignment):
    """One row per bucket overlapping [start, end), valid, labelled synthetic."""
    base = _base_for(interval)
    start, end = RANGES[base]
    df = synthetic_candles("BTC", interval, start, end, seed=3, base=base, alignment=alignment)
    validate(df)
    assert df.index.equals(bucket_range(start, end, interval, alignment=alignment))
    assert df.attrs == {"symbol": "BTC", "interval": interval, "alignment": alignment,
                        "source": "synthetic"}
    assert df["closed"].all()
    assert df["quote_volume"].notna().all() and df["trades"].notna().all()


@pytest.mark.parametrize("alignment", ALIGNMENTS)
@pytest.mark.parametrize("interval", COARSE)
def test_coarse_candles_are_exactly_the_resampled_base(interval, alignment):
    start, end = RANGES["1m"]
    df = synthetic_candles("ETH", interval, start, end, seed=5, alignment=alignment)
    lo, hi = df.index[0], next_bucket(df.index[-1], interval, alignment=alignment)
    base = synthetic_candles("ETH", "1m", lo, hi, seed=5, alignment=alignment)
    expected = resample(base, interval, alignment=alignment).drop(
        columns=["constituents", "expected_constituents"])
    pd.testing.assert_frame_equal(df, expected, check_exact=True)


@pytest.mark.parametrize("interval", ["1m", "5m", "1h"])
def test_coarse_from_the_1s_base_is_the_resampled_1s_base(interval):
    start, end = RANGES["1s"]
    df = synthetic_candles("SOL", interval, start, end, base="1s")
    lo, hi = df.index[0], next_bucket(df.index[-1], interval)
    base = synthetic_candles("SOL", "1s", lo, hi, base="1s")
    expected = resample(base, interval).drop(columns=["constituents",
                                                      "expected_constituents"])
    pd.testing.assert_frame_equal(df, expected, check_exact=True)


def test_generating_coarse_candles_in_chunks_changes_nothing(monkeypatch):
    whole = synthetic_candles("BTC", "1h", "2025-01-01", "2025-01-05")
    monkeypatch.setattr(synthetic, "_CHUNK_ROWS", 500)
    synthetic._day_candles.cache_clear()
    pd.testing.assert_frame_equal(synthetic_candles("BTC", "1h", "2025-01-01", "2025-01-05"),
                                  whole, check_exact=True)


# --- determinism and range independence --------------------------------------------------


@pytest.mark.parametrize(("base", "interval", "big", "small"), [
    ("1m", "1m", ("2024-12-30", "2025-01-04"), ("2025-01-01T13:07Z", "2025-01-02T00:01Z")),
    ("1m", "1h", ("2024-11-01", "2025-02-01"), ("2025-01-01T13:07Z", "2025-01-01T19:00Z")),
    ("1m", "1w", ("2024-06-01", "2025-06-01"), ("2025-01-01", "2025-01-20")),
    ("1s", "1s", ("2025-01-01T23:50Z", "2025-01-02T00:10Z"),
     ("2025-01-02T00:00:00Z", "2025-01-02T00:00:30Z")),
])
def test_candles_do_not_depend_on_the_range_asked_for(base, interval, big, small):
    market = SyntheticMarket(seed=11, base=base)
    whole = market.candles("ETH", interval, *big)
    synthetic._day_candles.cache_clear()
    part = market.candles("ETH", interval, *small)
    pd.testing.assert_frame_equal(part, whole.loc[part.index], check_exact=True)


def test_same_seed_same_candles_across_calls_and_fresh_caches():
    first = synthetic_candles("BTC", "5m", "2025-02-01", "2025-02-03", seed=42)
    synthetic._day_candles.cache_clear()
    synthetic._anchors.cache_clear()
    pd.testing.assert_frame_equal(
        SyntheticMarket(42).candles("BTC", "5m", "2025-02-01", "2025-02-03"), first,
        check_exact=True)


def test_candles_do_not_depend_on_the_process_hash_seed():
    """Coins are keyed by crc32, never by Python's randomised hash()."""
    code = ("from candlekit.synthetic import synthetic_candles as s;"
            "print(repr(float(s('xyz:NVDA', '1h', '2025-01-01', '2025-01-02').close.sum())))")
    outputs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONHASHSEED": seed}).stdout
        for seed in ("1", "2")
    }
    here = repr(float(synthetic_candles("xyz:NVDA", "1h", "2025-01-01", "2025-01-02")
                      .close.sum()))
    assert outputs == {here + "\n"}


@pytest.mark.parametrize("other", [{"seed": 1}, {"symbol": "SOL"}, {"base": "1s"}])
def test_seeds_coins_and_bases_are_different_markets(other):
    kwargs = {"symbol": "BTC", "seed": 0, "base": "1m"}
    a = synthetic_candles(kwargs["symbol"], "1m", "2025-01-01T10:00Z", "2025-01-01T12:00Z",
                          seed=kwargs["seed"], base=kwargs["base"])
    kwargs.update(other)
    b = synthetic_candles(kwargs["symbol"], "1m", "2025-01-01T10:00Z", "2025-01-01T12:00Z",
                          seed=kwargs["seed"], base=kwargs["base"])
    assert not np.array_equal(a["close"].to_numpy(), b["close"].to_numpy())


def test_both_bases_open_each_day_at_the_same_anchor():
    a = synthetic_candles("ETH", "1d", "2025-01-01", "2025-01-03", base="1m")
    b = synthetic_candles("ETH", "1d", "2025-01-01", "2025-01-03", base="1s")
    assert a["open"].tolist() == b["open"].tolist()
    assert not np.array_equal(a["high"].to_numpy(), b["high"].to_numpy())


# --- realism ------------------------------------------------------------------------------


@pytest.mark.parametrize(("symbol", "low", "high"), [
    ("BTC", 1e4, 1e6), ("ETH", 3e2, 3e4), ("SOL", 10, 2e3)])
def test_known_coins_trade_at_familiar_levels(symbol, low, high):
    df = synthetic_candles(symbol, "1d", "2020-01-01", "2026-01-01")
    assert low < df["low"].min() and df["high"].max() < high


def test_other_names_get_a_stable_level_of_their_own():
    a, b = coin_profile("xyz:NVDA"), coin_profile("PURR/USDC")
    assert a.price != b.price and a.key != b.key
    assert SyntheticMarket().price_hint("xyz:NVDA") == a.price
    df = synthetic_candles("PURR/USDC", "1d", "2024-01-01", "2025-01-01")
    assert (df["low"] > 0).all()
    assert 0.02 < float(np.median(df["close"])) / b.price < 50


def test_prices_sit_on_the_tick_grid_and_volumes_on_the_lot_grid():
    df = synthetic_candles("ETH", "1m", "2025-01-01", "2025-01-01T06:00Z")
    p = coin_profile("ETH")
    prices = df[PRICE_COLS].to_numpy() * 10.0**p.price_decimals
    lots = df["volume"].to_numpy() * 10.0**p.size_decimals
    assert np.allclose(prices, np.round(prices), atol=1e-6)
    assert np.allclose(lots, np.round(lots), atol=1e-6)


@pytest.mark.parametrize("base", ["1s", "1m"])
def test_quote_volume_and_trades_agree_with_volume(base):
    df = synthetic_candles("BTC", base, "2025-01-05T22:00Z", "2025-01-06T01:00Z", base=base)
    v = df["volume"].to_numpy()
    q = df["quote_volume"].to_numpy(dtype=float)
    n = df["trades"].to_numpy(dtype=np.int64)
    assert np.all(q >= df["low"].to_numpy() * v) and np.all(q <= df["high"].to_numpy() * v)
    assert np.array_equal(v > 0, n > 0)
    assert np.array_equal(df["open"].to_numpy()[1:], df["close"].to_numpy()[:-1])


def test_no_trade_seconds_exist_and_are_flat_at_the_previous_close():
    df = synthetic_candles("BTC", "1s", "2025-01-05T02:00Z", "2025-01-05T03:00Z", base="1s")
    quiet = np.flatnonzero(df["volume"].to_numpy() == 0)
    assert 0 < len(quiet) < len(df) / 2
    quiet = quiet[quiet > 0]
    rows = df.iloc[quiet]
    prev_close = df["close"].to_numpy()[quiet - 1]
    for col in PRICE_COLS:
        assert np.array_equal(rows[col].to_numpy(), prev_close)
    assert (rows["trades"] == 0).all() and (rows["quote_volume"] == 0).all()


def _abs_returns(df: pd.DataFrame) -> np.ndarray:
    return np.abs(np.diff(np.log(df["close"].to_numpy())))


def _autocorr(x: np.ndarray, lag: int) -> float:
    return float(np.corrcoef(x[:-lag], x[lag:])[0, 1])


@pytest.mark.parametrize("symbol", ["BTC", "ETH", "FOO"])
def test_volatility_clusters_and_volume_follows_it(symbol):
    df = synthetic_candles(symbol, "1m", "2025-01-06", "2025-01-13")
    a = _abs_returns(df)
    assert _autocorr(a, 1) > 0.05 and _autocorr(a, 10) > 0.05
    assert np.corrcoef(a, df["volume"].to_numpy()[1:])[0, 1] > 0.2


def test_us_hours_are_busier_than_asian_nights():
    df = synthetic_candles("BTC", "1h", "2025-01-06", "2025-02-03")
    by_hour = df["volume"].groupby(df.index.hour).mean()
    assert by_hour.loc[13:17].mean() > 1.5 * by_hour.loc[2:6].mean()


@pytest.mark.parametrize("symbol", ["BTC", "FOO"])
def test_drift_regimes_make_trends_at_the_monthly_scale(symbol):
    """20-day moves are more dispersed than 20 independent days would make them."""
    ratios = []
    for seed in range(4):
        anchors, _ = synthetic._anchors(seed, symbol, 5)  # daily opens, 1970 to 2026
        log_open = np.log(anchors[3650:18250])  # 1980 to 2020
        ratios.append(np.diff(log_open[::20]).var() / (20 * np.diff(log_open).var()))
    assert np.mean(ratios) > 1.2


# --- the clock ----------------------------------------------------------------------------

NOW = pd.Timestamp("2025-03-05T13:47:21.250Z")


@pytest.mark.parametrize(("base", "interval"), [
    ("1m", "1m"), ("1m", "5m"), ("1m", "1h"), ("1m", "1d"), ("1m", "1w"), ("1m", "1M"),
    ("1s", "1s"), ("1s", "1m"), ("1s", "15m")])
def test_candles_stop_at_now_and_the_last_is_open(base, interval):
    start, end = "2025-03-05T10:00Z", "2025-03-06"
    live = synthetic_candles("SOL", interval, start, end, base=base, now=NOW)
    history = synthetic_candles("SOL", interval, start, end, base=base)
    validate(live)
    assert live.index[-1] <= NOW < next_bucket(live.index[-1], interval)
    assert not live["closed"].iloc[-1] and live["closed"].iloc[:-1].all()
    pd.testing.assert_frame_equal(live.iloc[:-1], history.loc[live.index[:-1]],
                                  check_exact=True)
    open_row, final_row = live.iloc[-1], history.loc[live.index[-1]]
    assert open_row["open"] == final_row["open"]
    assert open_row["volume"] < final_row["volume"]
    assert final_row["low"] <= open_row["low"] and open_row["high"] <= final_row["high"]


def test_nothing_exists_at_or_after_now():
    on_boundary = pd.Timestamp("2025-03-05T13:47:00Z")
    df = synthetic_candles("BTC", "1m", "2025-03-05T13:00Z", "2025-03-05T14:00Z",
                           now=on_boundary)
    assert df.index[-1] == on_boundary - pd.Timedelta(minutes=1)
    assert df["closed"].all()
    hourly = synthetic_candles("BTC", "1h", "2025-03-05T13:00Z", "2025-03-05T14:00Z",
                               now=on_boundary)
    assert len(hourly) == 1 and not hourly["closed"].iloc[0]
    empty = synthetic_candles("BTC", "1h", "2025-03-05T14:00Z", "2025-03-05T18:00Z",
                              now=on_boundary)
    assert len(empty) == 0 and empty.attrs["source"] == "synthetic"
    validate(empty)


@pytest.mark.parametrize("base", ["1s", "1m"])
def test_an_open_candle_grows_as_the_clock_advances_then_closes(base):
    step = pd.Timedelta(base.replace("m", "min"))
    opened = pd.Timestamp("2025-03-05T13:47:00Z")
    final = synthetic_candles("ETH", base, opened, opened + step, base=base).iloc[0]
    seen = [synthetic_candles("ETH", base, opened, opened + step, base=base,
                              now=opened + step * f).iloc[0]
            for f in np.linspace(0.01, 0.99, 25)]
    frame = pd.DataFrame(seen)
    assert frame["high"].is_monotonic_increasing and frame["low"].is_monotonic_decreasing
    assert frame["volume"].is_monotonic_increasing
    assert frame["trades"].astype(int).is_monotonic_increasing
    assert not frame["closed"].any()
    assert (frame[["open", "high", "low", "close", "volume"]] != final[
        ["open", "high", "low", "close", "volume"]]).any(axis=1).any()
    assert (frame["close"] >= final["low"]).all() and (frame["close"] <= final["high"]).all()


# --- errors -------------------------------------------------------------------------------


def test_seconds_need_the_1s_base():
    with pytest.raises(ResampleError, match="base='1s'"):
        synthetic_candles("BTC", "1s", "2025-01-01", "2025-01-02")


def test_unknown_base_and_interval():
    with pytest.raises(InvalidIntervalError):
        SyntheticMarket(base="5m")
    with pytest.raises(InvalidIntervalError):
        synthetic_candles("BTC", "7m", "2025-01-01", "2025-01-02")


@pytest.mark.parametrize(("start", "end"), [("2025-01-02", "2025-01-01"),
                                            ("2025-01-01", "2025-01-01"),
                                            ("1969-12-31", "1970-01-02")])
def test_bad_ranges(start, end):
    with pytest.raises(InvalidTimeError):
        synthetic_candles("BTC", "1h", start, end)


def test_bad_symbol_and_seed():
    with pytest.raises(TypeError, match="symbol"):
        synthetic_candles(None, "1h", "2025-01-01", "2025-01-02")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="seed"):
        SyntheticMarket(seed=1.5)  # type: ignore[arg-type]

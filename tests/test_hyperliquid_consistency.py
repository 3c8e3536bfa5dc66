"""Resampling Hyperliquid's fine candles reproduces Hyperliquid's own coarse candles.

On the real BTC and ETH files in ``../shared/data/hyperliquid-freqtrade`` (skipped when
absent), every complete post-2023-07-01 bucket of a fine-to-coarse resampling (under the
exchange's alignment) is compared with the native coarse candle: OHLC exactly, volume to
float tolerance. The exceptions are listed; they are upstream defects (a coarse candle
stored while still open, or reset mid-bucket), not resampling errors.
"""

import math

import numpy as np
import pandas as pd
import pytest

from candlekit.freqtrade import read_freqtrade
from candlekit.resample import resample

pytestmark = pytest.mark.shared

PAIRS = [("1m", "5m"), ("5m", "15m"), ("5m", "1h"), ("1h", "4h"), ("1h", "1d"),
         ("1d", "3d"), ("1d", "1w"), ("1d", "1M")]
SINCE = pd.Timestamp("2023-07-01", tz="UTC")
MIN_MATCH_RATE = 0.99


def load(freqtrade_dir, coin: str, interval: str) -> pd.DataFrame:
    timeframe = "1Mo" if interval == "1M" else interval
    return read_freqtrade(freqtrade_dir / f"{coin}_USDC_USDC-{timeframe}-futures.feather",
                          alignment="hyperliquid")


def compare(fine: pd.DataFrame, native: pd.DataFrame, interval: str) -> pd.DataFrame:
    """Complete resampled buckets since SINCE next to the native candles, with ``match``."""
    ours = resample(fine, interval)
    ours = ours[(ours["constituents"] == ours["expected_constituents"]) & (ours.index >= SINCE)]
    unmatched = ours.index.difference(native.index)
    assert len(unmatched) == 0, f"no native {interval} candle for {list(unmatched[:5])}"
    both = ours.join(native.add_suffix("_native"), how="inner")
    prices = ["open", "high", "low", "close"]
    same = np.all([both[c].to_numpy() == both[f"{c}_native"].to_numpy() for c in prices], axis=0)
    same &= np.isclose(both["volume"], both["volume_native"], rtol=1e-9, atol=1e-9)
    return both.assign(match=same)


@pytest.mark.parametrize("coin", ["BTC", "ETH"])
@pytest.mark.parametrize("fine_iv, coarse_iv", PAIRS)
def test_resampled_fine_candles_equal_native_coarse(freqtrade_dir, coin, fine_iv, coarse_iv):
    fine = load(freqtrade_dir, coin, fine_iv)
    native = load(freqtrade_dir, coin, coarse_iv)
    both = compare(fine, native, coarse_iv)
    total = len(both)
    matches = int(both["match"].sum())
    exceptions = both.index[~both["match"].to_numpy()]
    cols = ["open", "open_native", "high", "high_native", "low", "low_native", "close",
            "close_native", "volume", "volume_native"]
    report = (f"{coin} {fine_iv}->{coarse_iv}: {matches}/{total} complete buckets match "
              f"({matches / max(total, 1):.2%}); exceptions:\n"
              f"{both.loc[exceptions, cols].to_string() if len(exceptions) else 'none'}")
    print(report)

    assert total >= 20, f"too few complete buckets to compare\n{report}"
    # the exception list is exactly the disagreeing buckets, and nothing else
    assert len(exceptions) == total - matches
    for when in exceptions:
        row = both.loc[when]
        assert any(row[c] != row[f"{c}_native"] for c in ("open", "high", "low", "close")) or \
            not math.isclose(row["volume"], row["volume_native"], rel_tol=1e-9, abs_tol=1e-9)
    # at least 99% match; where 1% is under one bucket (fewer than 100), one may differ
    allowed = max(1, math.floor(total * (1 - MIN_MATCH_RATE)))
    assert len(exceptions) <= allowed, report
    if total >= 100:
        assert matches / total >= MIN_MATCH_RATE, report


def test_pooled_match_rate(freqtrade_dir):
    """Over every pair and both coins together, at least 99.5% of buckets match."""
    total = matches = 0
    for coin in ("BTC", "ETH"):
        for fine_iv, coarse_iv in PAIRS:
            both = compare(load(freqtrade_dir, coin, fine_iv),
                           load(freqtrade_dir, coin, coarse_iv), coarse_iv)
            total += len(both)
            matches += int(both["match"].sum())
    assert total > 30_000
    assert matches / total >= 0.995, f"{matches}/{total}"

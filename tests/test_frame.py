"""Building and conforming canonical frames."""

import numpy as np
import pandas as pd
import pytest

from candlekit.errors import CandleValidationError, InvalidIntervalError
from candlekit.frame import COLUMNS, conform, empty_frame, make_frame, masked_parts
from candlekit.schema import validate


def test_make_frame_layout_and_attrs():
    df = make_frame(["2025-01-01T00:00", "2025-01-01T00:01"], [1, 2], [2, 3], [0.5, 1], [1.5, 2],
                    [10, 20], quote_volume=[15.0, None], trades=[3, None],
                    closed=[True, False], symbol="xyz:NVDA", interval="1m", source="synthetic")
    assert tuple(df.columns) == COLUMNS
    assert df.index.name == "time" and str(df.index.dtype) == "datetime64[ms, UTC]"
    assert str(df["quote_volume"].dtype) == "Float64" and df["quote_volume"].isna().tolist() == [
        False, True]
    assert str(df["trades"].dtype) == "Int64" and df["trades"].isna().tolist() == [False, True]
    assert df["closed"].tolist() == [True, False]
    assert df.attrs == {"symbol": "xyz:NVDA", "interval": "1m", "alignment": "calendar",
                        "source": "synthetic"}
    validate(df)


def test_omitted_quote_volume_and_trades_are_unknown_not_zero():
    df = make_frame([0, 60_000], [1, 1], [1, 1], [1, 1], [1, 1], [0, 0], interval="1m")
    assert df["quote_volume"].isna().all() and df["trades"].isna().all()


def test_float_nan_becomes_null():
    df = make_frame([0], [1], [1], [1], [1], [1], quote_volume=np.array([np.nan]),
                    trades=np.array([np.nan]), interval="1m")
    assert df["quote_volume"].isna().all() and df["trades"].isna().all()


def test_empty_frame_validates():
    df = empty_frame(symbol="BTC", interval="1h")
    assert len(df) == 0 and tuple(df.columns) == COLUMNS
    validate(df)


def test_bad_interval_in_attrs():
    with pytest.raises(InvalidIntervalError):
        make_frame([0], [1], [1], [1], [1], [1], interval="7m")


def test_conform_from_plain_frame():
    raw = pd.DataFrame({
        "date": pd.to_datetime(["2025-01-01", "2025-01-02"], utc=True).as_unit("ns"),
        "open": [1, 2], "high": [2, 3], "low": [1, 1], "close": [2, 2], "volume": [5, 6],
        "extra": ["a", "b"],
    })
    df = conform(raw, symbol="ETH", interval="1d", closed=True, source="csv")
    assert str(df.index.dtype) == "datetime64[ms, UTC]"
    assert df["open"].dtype == np.float64 and df["extra"].tolist() == ["a", "b"]
    assert df.attrs["symbol"] == "ETH" and df["closed"].all()
    validate(df)


def test_conform_requires_closed_information():
    raw = pd.DataFrame({"time": [0], "open": [1.0], "high": [1.0], "low": [1.0],
                        "close": [1.0], "volume": [1.0]})
    with pytest.raises(CandleValidationError, match="closed"):
        conform(raw, interval="1m")
    with pytest.raises(CandleValidationError, match="Missing candle columns"):
        conform(raw.drop(columns=["volume"]), interval="1m", closed=True)


def test_masked_parts_zero_copy():
    s = pd.Series(pd.array([1.5, None], dtype="Float64"))
    values, mask = masked_parts(s)
    assert mask.tolist() == [False, True] and values[0] == 1.5
    assert np.shares_memory(values, s.array._data)
    values, mask = masked_parts(pd.Series([1.0, np.nan]))
    assert mask.tolist() == [False, True]


def test_canonical_frame_plots_directly_with_mplfinance():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplfinance as mpf

    from candlekit.synthetic import synthetic_candles

    df = synthetic_candles("BTC", "1h", "2025-01-01", "2025-01-03")
    fig, axes = mpf.plot(df, type="candle", volume=True, returnfig=True)
    try:
        # one candle body per row (mplfinance draws bodies as one PolyCollection)
        bodies = [c for c in axes[0].collections if len(c.get_paths()) == len(df)]
        assert bodies, "mplfinance did not draw one body per candle"
        assert axes[2].get_ylabel() == "Volume"
    finally:
        plt.close(fig)

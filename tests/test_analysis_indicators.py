"""Indicators equal TA-Lib's on real BTC/ETH candles and on synthetic frames, causally."""

from __future__ import annotations

import numpy as np
import pytest

import candlekit as ck
from candlekit.analysis import indicators as ind

talib = pytest.importorskip("talib", reason="ta-lib (test extra) is the reference")

RTOL = 1e-9


def _close(ours: np.ndarray, ref: np.ndarray, *, scale: float) -> None:
    """Same NaN warm-up, then equal to RTOL relative (values near 0 relative to ``scale``)."""
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    m = ~np.isnan(ref)
    if not m.any():  # shorter than the warm-up: all NaN in both (checked above)
        return
    np.testing.assert_allclose(ours[m], ref[m], rtol=RTOL, atol=RTOL * scale)


def _check_all(h: np.ndarray, lo: np.ndarray, c: np.ndarray) -> None:
    scale = float(np.nanmean(np.abs(c)))
    for n in (20, 50, 200):
        _close(ind.ema(c, n), talib.EMA(c, n), scale=scale)
    _close(ind.rsi(c, 14), talib.RSI(c, 14), scale=100.0)
    for ours, ref in zip(ind.macd(c), talib.MACD(c, 12, 26, 9)):
        _close(ours, ref, scale=scale)
    _close(ind.atr(h, lo, c, 14), talib.ATR(h, lo, c, 14), scale=scale)
    _close(ind.adx(h, lo, c, 14), talib.ADX(h, lo, c, 14), scale=100.0)
    _close(ind.true_range(h, lo, c), talib.TRANGE(h, lo, c), scale=scale)


@pytest.mark.shared
@pytest.mark.parametrize("coin", ["BTC", "ETH"])
@pytest.mark.parametrize("interval", ["1m", "15m", "1h", "4h", "1d", "1w"])
def test_equal_talib_on_real_candles(freqtrade_dir, coin, interval):
    df = ck.read_freqtrade(freqtrade_dir / f"{coin}_USDC_USDC-{interval}-futures.feather")
    df = df[df["closed"]]
    h, lo, c = (df[x].to_numpy() for x in ("high", "low", "close"))
    _check_all(h, lo, c)
    # and on a window starting mid-history (what analyze(lookback=...) computes over)
    _check_all(h[len(h) // 3:], lo[len(lo) // 3:], c[len(c) // 3:])


@pytest.mark.parametrize("symbol", ["BTC", "SOL", "xyz:NVDA"])
def test_equal_talib_on_synthetic(symbol):
    df = ck.synthetic_candles(symbol, "1h", "2026-01-01", "2026-03-01")
    _check_all(*(df[x].to_numpy() for x in ("high", "low", "close")))


def test_flat_and_tiny_inputs():
    """Constant prices (zero ranges) and inputs shorter than the warm-up, as TA-Lib."""
    c = np.full(300, 100.0)
    c[150:] = 101.0
    _check_all(c + 0.0, c + 0.0, c)
    short = np.linspace(1.0, 2.0, 10)
    for ours, ref in ((ind.ema(short, 20), talib.EMA(short, 20)),
                      (ind.rsi(short), talib.RSI(short, 14)),
                      (ind.adx(short, short, short), talib.ADX(short, short, short, 14))):
        assert np.isnan(ours).all() and np.isnan(ref).all()
    assert all(np.isnan(x).all() for x in ind.macd(short))


def test_realized_vol_and_volume_ratio_definitions():
    rng = np.random.default_rng(1)
    c = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 300)))
    v = rng.uniform(1, 10, 300)
    ppy = ind.bars_per_year(3_600_000)
    assert ppy == pytest.approx(8766.0)
    rv = ind.realized_vol(c, 20, periods_per_year=ppy)
    r = np.diff(np.log(c))
    assert np.isnan(rv[:20]).all()
    for i in (20, 150, 299):
        assert rv[i] == pytest.approx(np.std(r[i - 20:i], ddof=1) * np.sqrt(ppy), rel=1e-12)
    # against TA-Lib's sample-free STDDEV (population) rescaled to ddof=1
    ref = talib.STDDEV(np.concatenate([[np.nan], r]), 20, 1.0) * np.sqrt(20 / 19) * np.sqrt(ppy)
    np.testing.assert_allclose(rv[21:], ref[21:], rtol=1e-6)
    vr = ind.volume_ratio(v, 20)
    assert np.isnan(vr[:20]).all()
    assert vr[25] == pytest.approx(v[25] / v[5:25].mean(), rel=1e-12)
    sma = talib.SMA(v, 20)
    np.testing.assert_allclose(vr[20:], v[20:] / sma[19:-1], rtol=1e-9)


def test_prefix_gives_prefix():
    """Causality: the series over a prefix equals the prefix of the series, bit for bit."""
    df = ck.synthetic_candles("ETH", "1h", "2026-01-01", "2026-02-15")
    h, lo, c = (df[x].to_numpy() for x in ("high", "low", "close"))
    full = [ind.ema(c, 50), ind.rsi(c), *ind.macd(c), ind.atr(h, lo, c), ind.adx(h, lo, c),
            ind.realized_vol(c, 20, periods_per_year=8766.0), ind.volume_ratio(c, 20)]
    for cut in (60, 333, len(c) - 1):
        part = [ind.ema(c[:cut], 50), ind.rsi(c[:cut]), *ind.macd(c[:cut]),
                ind.atr(h[:cut], lo[:cut], c[:cut]), ind.adx(h[:cut], lo[:cut], c[:cut]),
                ind.realized_vol(c[:cut], 20, periods_per_year=8766.0),
                ind.volume_ratio(c[:cut], 20)]
        for a, b in zip(full, part):
            np.testing.assert_array_equal(a[:cut], b)


@pytest.mark.shared
@pytest.mark.parametrize("coin", ["BTC", "ETH"])
def test_analyze_facts_equal_talib_over_lookback(freqtrade_dir, coin):
    """The facts at as_of are TA-Lib's values over exactly [first_bar, as_of]."""
    df = ck.read_freqtrade(freqtrade_dir / f"{coin}_USDC_USDC-1h-futures.feather")
    as_of = df.index[4000] + np.timedelta64(3_599_999, "ms")
    a = ck.analyze(df, as_of=as_of, lookback=1500)
    window = df[(df.index >= a.facts["first_bar"]) & (df.index <= df.index[4000])]
    assert len(window) == a.facts["bars_used"] == 1500
    h, lo, c = (window[x].to_numpy() for x in ("high", "low", "close"))
    f = a.facts
    assert f["ema_200"] == pytest.approx(talib.EMA(c, 200)[-1], rel=RTOL)
    assert f["ema_20"] == pytest.approx(talib.EMA(c, 20)[-1], rel=RTOL)
    assert f["rsi_14"] == pytest.approx(talib.RSI(c, 14)[-1], rel=RTOL)
    m, s, hist = (x[-1] for x in talib.MACD(c, 12, 26, 9))
    assert (f["macd"], f["macd_signal"], f["macd_hist"]) == pytest.approx((m, s, hist), rel=RTOL)
    assert f["atr_14"] == pytest.approx(talib.ATR(h, lo, c, 14)[-1], rel=RTOL)
    assert f["adx_14"] == pytest.approx(talib.ADX(h, lo, c, 14)[-1], rel=RTOL)
    assert f["atr_pct"] == pytest.approx(100 * f["atr_14"] / c[-1], rel=1e-12)

"""The analysis chart and the calibration plot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from candlekit.analysis import analyze, track_record
from candlekit.analysis.charts import chart_frame, plot_analysis, plot_calibration
from candlekit.errors import AnalysisError
from candlekit.synthetic import synthetic_candles


@pytest.fixture(scope="module")
def case():
    df = synthetic_candles("BTC", "4h", "2025-06-01", "2026-06-01", seed=3)
    for as_of in pd.date_range("2026-05-31", periods=60, freq="-1D", tz="UTC"):
        a = analyze(df, as_of=as_of, lookback=1500)
        if a.facts["divergence"] != "none" and a.facts["support"] is not None \
                and a.facts["resistance"] is not None:
            return df, a
    raise AssertionError("no analysis with a divergence and both levels in 60 days")


def test_the_chart_draws_the_series_the_facts_state(case):
    df, a = case
    frame = chart_frame(df, a)
    last = frame.iloc[-1]
    for name in ("ema_20", "ema_50", "ema_200", "rsi_14", "macd", "macd_signal", "macd_hist"):
        assert last[name] == pytest.approx(a.facts[name], rel=1e-12), name
    assert len(frame) == a.facts["bars_used"] and frame.index[-1] == pd.Timestamp(
        a.facts["last_open"])


def test_the_chart_has_levels_divergence_rsi_and_macd_panels(case):
    df, a = case
    fig = plot_analysis(df, a, max_candles=120)
    title = fig._suptitle.get_text()
    assert title.startswith("SYNTHETIC DATA: BTC 4h (synthetic) as of " + a.as_of)
    panels = {ax.get_ylabel() for ax in fig.axes}
    assert {"RSI 14", "MACD 12/26/9"} <= panels
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend[:3] == ["EMA 20", "EMA 50", "EMA 200"]
    assert f"support ({a.facts['support_touches']} touches)" in legend
    assert f"resistance ({a.facts['resistance_touches']} touches)" in legend
    assert f"{a.facts['divergence']} divergence swings (dotted: confirmed)" in legend
    # the support and resistance lines are drawn at the facts' prices
    ys = {round(float(y), 6) for line in fig.axes[0].get_lines()
          for y in np.unique(line.get_ydata()) if len(np.unique(line.get_ydata())) == 1}
    assert round(a.facts["support"], 6) in ys and round(a.facts["resistance"], 6) in ys


def test_the_chart_refuses_candles_the_analysis_did_not_use(case):
    df, a = case
    with pytest.raises(AnalysisError, match="not the ones analysis"):
        plot_analysis(df.iloc[-1000:], a)  # fewer candles than the 1,500 it used


def test_the_calibration_plot_bins_the_track_record():
    df = synthetic_candles("ETH", "1h", "2026-01-01", "2026-04-01", seed=2)
    record = track_record(df)
    fig = plot_calibration(record, bins=5)
    ax = fig.axes[0]
    (points,) = ax.collections
    table = record.calibration(5)
    np.testing.assert_allclose(points.get_offsets(), table[["mean_p_up", "observed_up"]])
    assert ax.get_xlabel() == "predicted probability of a higher close"
    assert fig._suptitle.get_text().startswith(
        f"SYNTHETIC DATA: Calibration: {record.summary['n']:,} graded 1h calls on ETH")

"""A chart over a titled range covers all of it: a leading gap shows as a gap, not a sliver."""

from __future__ import annotations

import matplotlib.dates as mdates
import pandas as pd

from candlekit.charts import plot_candles, plot_series_windows
from candlekit.coverage import coverage_table, gap_table
from candlekit.store import Store
from candlekit.synthetic import synthetic_candles

START, END = pd.Timestamp("2026-10-01", tz="UTC"), pd.Timestamp("2026-10-08", tz="UTC")


def _late_series():
    df = synthetic_candles("BTC", "1h", START, END)
    attrs = dict(df.attrs)
    df = df[df.index >= "2026-10-03"]  # history begins two days into the range
    df.attrs = attrs
    return df


def _x(ts) -> float:
    t = pd.Timestamp(ts)
    t = t.tz_localize("UTC") if t.tz is None else t
    return float(mdates.date2num(t.tz_convert("UTC").tz_localize(None)))


def test_the_axis_covers_the_span():
    fig = plot_candles(_late_series(), span=(START, END))
    lo, hi = fig.axes[0].get_xlim()
    assert lo <= _x(START) and hi >= _x(END)


def test_without_a_span_the_axis_follows_the_candles():
    lo, _ = plot_candles(_late_series()).axes[0].get_xlim()
    assert lo > _x("2026-10-02")


def test_series_windows_span_the_window_in_their_titles(tmp_path):
    store = Store(tmp_path)
    store.write(_late_series())
    cov = coverage_table(store, window=(START, END))
    (fig,) = plot_series_windows(store, cov, gaps=gap_table(store, window=(START, END)))
    lo, hi = fig.axes[0].get_xlim()
    assert lo <= _x(START) and hi >= _x(END) - 1 / 24
    assert "2026-10-01 00:00 to 2026-10-08 00:00" in fig._suptitle.get_text()
    # the leading gap [10-01, 10-03) is shaded whole, not as a sliver at 10-03
    spans = [p.get_x() for p in fig.axes[0].patches
             if hasattr(p, "get_width") and p.get_width() > 1.5]
    assert any(abs(x - _x(START)) < 1e-6 for x in spans), spans

"""A chart over a titled range covers all of it: a leading gap shows as a gap, not a sliver."""

from __future__ import annotations

import matplotlib.dates as mdates
import pytest
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


@pytest.mark.parametrize(("interval", "start", "end"), [
    ("1m", "2026-10-31T15:00Z", "2026-11-01"), ("1h", "2026-09-10", "2026-10-01"),
    ("1d", "2025-06-01", "2026-10-01"), ("1m", "2026-12-31T20:00Z", "2027-01-01T04:00Z"),
])
def test_date_labels_never_overlap(interval, start, end):
    df = synthetic_candles("BTC", interval, start, end)
    for figsize in ((11.0, 6.5), (7.0, 4.5)):  # the explorer's size and a narrow one
        fig = plot_candles(df, fit="resample", figsize=figsize)
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        renderer = FigureCanvasAgg(fig).get_renderer()
        fig.draw(renderer)
        ax = fig.axes[2]  # the volume panel carries the visible date labels
        boxes = sorted((t.get_window_extent(renderer) for t in ax.get_xticklabels()
                        if t.get_text()), key=lambda b: b.x0)
        assert len(boxes) >= 3
        for a, b in zip(boxes, boxes[1:]):
            assert a.x1 < b.x0, (interval, figsize, [t.get_text() for t in ax.get_xticklabels()])

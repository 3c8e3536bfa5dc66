"""Coverage timeline and candle charts (Agg backend; figures are inspected, not looked at)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.colors as mcolors
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from candlekit.charts import (
    GAP_COLOUR,
    STORED_COLOUR,
    plot_candles,
    plot_coverage_timeline,
    plot_series_windows,
)
from candlekit.coverage import coverage_table, gap_table
from candlekit.errors import CandleValidationError, FormatError
from candlekit.gaps import find_gaps
from candlekit.store import Store
from candlekit.synthetic import synthetic_candles

HOLE = (pd.Timestamp("2026-10-02T03:00Z"), pd.Timestamp("2026-10-02T04:30Z"))


def _without(df: pd.DataFrame, lo: pd.Timestamp, hi: pd.Timestamp) -> pd.DataFrame:
    out = df[(df.index < lo) | (df.index >= hi)]
    out.attrs = dict(df.attrs)
    return out


@pytest.fixture(scope="module")
def holed() -> pd.DataFrame:
    """ETH 1m over half a day with a 90-minute hole."""
    df = synthetic_candles("ETH", "1m", "2026-10-02T00:00", "2026-10-02T08:00", seed=7)
    return _without(df, *HOLE)


@pytest.fixture
def store(tmp_path, holed) -> Store:
    st = Store(tmp_path)
    st.write(holed)
    st.write(synthetic_candles("BTC", "1h", "2026-10-01", "2026-10-02T08:00", seed=7))
    return st


def _num(t: pd.Timestamp) -> float:
    return float(mdates.date2num(t.tz_convert("UTC").tz_localize(None).to_pydatetime()))


def _bars(ax, colour: str) -> list[tuple[float, float]]:
    """(x, width) of every broken_barh bar drawn in ``colour``."""
    out = []
    target = mcolors.to_rgba(colour)
    for coll in ax.collections:
        if np.allclose(coll.get_facecolor()[0], target):
            for path in coll.get_paths():
                xs = path.vertices[:, 0]
                out.append((float(xs.min()), float(xs.max() - xs.min())))
    return sorted(out)


def _spans(ax) -> list[tuple[float, float]]:
    """(start, end) of every red axvspan."""
    target = mcolors.to_rgba(GAP_COLOUR)[:3]
    out = []
    for patch in ax.patches:
        if np.allclose(patch.get_facecolor()[:3], target):
            if hasattr(patch, "get_width"):  # a Rectangle (matplotlib >= 3.9)
                out.append((patch.get_x(), patch.get_x() + patch.get_width()))
            else:
                xs = patch.get_xy()[:, 0]
                out.append((float(xs.min()), float(xs.max())))
    return out


def _candle_bodies(ax, n: int) -> bool:
    return any(len(c.get_paths()) == n for c in ax.collections)


def test_timeline_draws_stored_spans_and_marks_gaps(store):
    cov, gaps = coverage_table(store), gap_table(store)
    fig = plot_coverage_timeline(cov, gaps)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["BTC 1h · synthetic",
                                                             "ETH 1m · synthetic"]
    assert "SYNTHETIC DATA" in fig._suptitle.get_text()
    red = _bars(ax, GAP_COLOUR)
    assert len(red) == 1 and red[0][0] == pytest.approx(_num(HOLE[0]))
    blue = _bars(ax, STORED_COLOUR)
    eth_end = _num(cov.loc[cov["symbol"] == "ETH", "end"].iloc[0])
    # ETH is stored on both sides of its hole, BTC in one piece
    assert len(blue) == 3
    assert any(x == pytest.approx(_num(HOLE[1])) and x + w == pytest.approx(eth_end)
               for x, w in blue)
    assert plt.get_fignums() == []  # detached from pyplot: never shown twice


def test_a_short_gap_is_still_drawn_wide_enough_to_see(tmp_path):
    df = synthetic_candles("BTC", "1m", "2026-10-01", "2026-10-04", seed=7)
    st = Store(tmp_path)
    st.write(_without(df, pd.Timestamp("2026-10-02T12:00Z"), pd.Timestamp("2026-10-02T12:01Z")))
    fig = plot_coverage_timeline(coverage_table(st), gap_table(st))
    (_, width), = _bars(fig.axes[0], GAP_COLOUR)
    lo, hi = fig.axes[0].get_xlim()
    assert width >= 0.003 * (hi - lo)  # one minute in three days would be invisible


def test_timeline_of_real_data_has_no_synthetic_title(store):
    cov = coverage_table(store).assign(source="hyperliquid", synthetic=False)
    fig = plot_coverage_timeline(cov)
    assert "SYNTHETIC" not in fig._suptitle.get_text()
    assert _bars(fig.axes[0], GAP_COLOUR) == []


def test_timeline_of_nothing_says_how_to_fill_the_store(tmp_path):
    fig = plot_coverage_timeline(coverage_table(Store(tmp_path)))
    assert any("make demo" in t.get_text() for t in fig.axes[0].texts)
    with pytest.raises(FormatError, match="coverage table"):
        plot_coverage_timeline(pd.DataFrame({"symbol": ["BTC"]}))


def test_candles_on_a_real_time_axis_with_the_hole_shaded(holed):
    fig = plot_candles(holed)
    price = fig.axes[0]
    assert _candle_bodies(price, len(holed))
    (start, end), = _spans(price)
    assert (start, end) == (pytest.approx(_num(HOLE[0])), pytest.approx(_num(HOLE[1])))
    # show_nontrading: x is time, so the candles after the hole sit after its end
    lo, hi = price.get_xlim()
    assert hi >= _num(holed.index[-1]) and lo <= _num(holed.index[0])
    title = fig._suptitle.get_text()
    assert title.startswith("SYNTHETIC DATA") and "ETH 1m (synthetic)" in title
    assert any(t.get_text() == "SYNTHETIC DATA" for t in fig.texts)  # the watermark
    assert len(fig.axes) >= 3 and fig.axes[2].get_ylabel() == "Volume"
    assert plt.get_fignums() == []
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    assert buf.getvalue().startswith(b"\x89PNG")


def test_real_candles_have_no_watermark(holed):
    df = holed.copy()
    df.attrs = {**holed.attrs, "source": "hyperliquid"}
    fig = plot_candles(df, title="mine", volume=False)
    assert fig._suptitle.get_text() == "mine"
    assert not any("SYNTHETIC" in t.get_text() for t in fig.texts)
    assert all(ax.get_ylabel() != "Volume" for ax in fig.axes)


def test_long_frames_show_the_latest_candles_or_are_resampled(holed):
    fig = plot_candles(holed, max_candles=100)
    assert _candle_bodies(fig.axes[0], 100)
    assert "latest 100 of" in fig._suptitle.get_text()
    assert _spans(fig.axes[0]) == []  # the hole is before the latest 100 candles
    fig = plot_candles(holed, max_candles=100, fit="resample")
    assert "shown as" in fig._suptitle.get_text() and "5m candles" in fig._suptitle.get_text()
    assert _candle_bodies(fig.axes[0], 8 * 12 - 90 // 5)
    assert len(_spans(fig.axes[0])) == 1


def test_gaps_from_a_gap_table_or_find_gaps(store, holed):
    table = gap_table(store)  # ETH's row only applies to the ETH chart
    btc = store.read("BTC", "1h")
    assert _spans(plot_candles(btc, gaps=table).axes[0]) == []
    from_table = _spans(plot_candles(holed, gaps=table).axes[0])
    from_find_gaps = _spans(plot_candles(holed, gaps=find_gaps(holed)).axes[0])
    assert from_table == from_find_gaps == [(pytest.approx(_num(HOLE[0])),
                                             pytest.approx(_num(HOLE[1])))]
    assert _spans(plot_candles(holed, gaps=table.iloc[:0]).axes[0]) == []


def test_bad_input_raises(holed):
    with pytest.raises(CandleValidationError, match="Nothing to plot"):
        plot_candles(holed.iloc[:0])
    with pytest.raises(FormatError, match="max_candles"):
        plot_candles(holed, max_candles=1)
    with pytest.raises(FormatError, match="fit"):
        plot_candles(holed, fit="squeeze")
    with pytest.raises(FormatError, match="start and end"):
        plot_candles(holed, gaps=pd.DataFrame({"from": []}))


def test_series_windows_draw_each_series_over_its_span(store):
    cov = coverage_table(store, window="6h")
    figures = plot_series_windows(store, cov, gaps=gap_table(store, window="6h"))
    assert len(figures) == 2
    titles = [f._suptitle.get_text() for f in figures]
    assert "BTC 1h" in titles[0] and "ETH 1m" in titles[1]
    assert all(f"{row.start:%Y-%m-%d %H:%M}" in t for row, t in zip(cov.itertuples(), titles))
    assert len(_spans(figures[1].axes[0])) == 1  # the hole is in ETH's latest 6 hours
    assert plt.get_fignums() == []


def test_series_windows_skip_a_corrupted_file_and_gap_shading_ignores_its_row(tmp_path):
    st = Store(tmp_path / "store")
    st.write(synthetic_candles("BTC", "1h", "2025-12-30", "2026-01-03", seed=1))
    bad = st.series_path("BTC", "1h", source="synthetic") / "period=2025-01-01" / "part-0.parquet"
    bad.write_bytes(b"not parquet")
    window = ("2025-12-30", "2026-01-03")
    cov, gaps = coverage_table(st, window=window), gap_table(st, window=window)
    assert gaps["status"].tolist() == ["unreadable"]
    (fig,) = plot_series_windows(st, cov, gaps=gaps)
    assert _spans(fig.axes[0]) == []  # the unreadable period is not drawn as missing
    plot_coverage_timeline(cov, gaps)

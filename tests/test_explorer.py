"""The ipywidgets explorer, driven from Python as a frontend would drive it."""

from __future__ import annotations

import base64
import datetime as dt

import matplotlib

matplotlib.use("Agg")

import pandas as pd
import pytest

from candlekit.errors import (
    FormatError,
    InvalidAlignmentError,
    InvalidIntervalError,
    InvalidTimeError,
)
from candlekit.explorer import Explorer
from candlekit.resample import resample
from candlekit.store import Store
from candlekit.synthetic import synthetic_candles

HOLE = (pd.Timestamp("2026-10-02T10:00Z"), pd.Timestamp("2026-10-02T12:00Z"))


@pytest.fixture
def store(tmp_path) -> Store:
    """BTC and ETH 1m and 1h over three days; ETH 1h misses two hours."""
    st = Store(tmp_path / "store")
    for symbol in ("BTC", "ETH"):
        for interval in ("1m", "1h"):
            df = synthetic_candles(symbol, interval, "2026-10-01", "2026-10-04", seed=7)
            if symbol == "ETH" and interval == "1h":
                attrs = dict(df.attrs)
                df = df[(df.index < HOLE[0]) | (df.index >= HOLE[1])]
                df.attrs = attrs
            st.write(df)
    return st


def _title(explorer: Explorer) -> str:
    return explorer.figure._suptitle.get_text()


def _png(explorer: Explorer) -> bytes:
    (output,) = explorer.output.outputs
    return base64.b64decode(output["data"]["image/png"])


def test_the_default_selection_is_drawn_on_creation(store):
    ex = Explorer(store, symbol="BTC", interval="1h")
    assert ex.selection == {"symbol": "BTC", "source": "synthetic", "interval": "1h",
                            "alignment": "calendar",
                            "start": pd.Timestamp("2026-10-01", tz="UTC"),
                            "end": pd.Timestamp("2026-10-04", tz="UTC")}
    assert "BTC 1h" in _title(ex) and "SYNTHETIC DATA" in _title(ex)
    assert len(ex.frame) == 72 and ex.frame.attrs["symbol"] == "BTC"
    assert _png(ex).startswith(b"\x89PNG")
    assert "72 candle(s)" in ex.status and "no gaps" in ex.status
    assert "SYNTHETIC DATA" in ex.status_widget.value


def test_changing_the_symbol_redraws(store):
    ex = Explorer(store, symbol="BTC", interval="1h")
    before_fig, before_png = ex.figure, _png(ex)
    ex.symbol_widget.value = "ETH"
    assert ex.figure is not before_fig and _png(ex) != before_png
    assert "ETH 1h" in _title(ex) and "BTC" not in _title(ex)
    assert ex.frame.attrs["symbol"] == "ETH" and len(ex.frame) == 72 - 2
    assert ex.selection["symbol"] == "ETH" and ex.selection["interval"] == "1h"
    assert "1 gap(s), 2 missing candle(s)" in ex.status


def test_widgets_have_stable_descriptions_and_css_classes(store):
    ex = Explorer(store)
    named = {"symbol": (ex.symbol_widget, "Symbol"), "source": (ex.source_widget, "Source"),
             "interval": (ex.interval_widget, "Interval"),
             "alignment": (ex.alignment_widget, "Alignment"),
             "start": (ex.start_widget, "From (UTC)"),
             "end": (ex.end_widget, "To (UTC, inclusive)")}
    for name, (widget, description) in named.items():
        assert f"candlekit-{name}" in widget._dom_classes
        assert widget.description == description
    assert "candlekit-chart" in ex.output._dom_classes
    assert "candlekit-status" in ex.status_widget._dom_classes
    assert "candlekit-explorer" in ex.widget._dom_classes
    assert list(ex.symbol_widget.options) == ["BTC", "ETH"]
    assert ex.interval_widget.value == "1h"  # the default when available


def test_an_interval_that_is_not_stored_is_resampled(store):
    ex = Explorer(store, symbol="ETH", interval="1h")
    labels = {value: label for label, value in ex.interval_widget.options}
    assert labels["1h"] == "1h" and labels["4h"] == "4h (resampled)"
    ex.interval_widget.value = "4h"
    assert "resampled from 1h" in ex.status and "resampled from 1h" in _title(ex)
    assert ex.frame.attrs["interval"] == "4h"
    assert (ex.frame.index.hour % 4 == 0).all()
    assert "partial candle(s)" in ex.status  # the bucket holding the hole lacks two hours


def test_weeks_follow_the_alignment(tmp_path):
    st = Store(tmp_path)
    days = synthetic_candles("BTC", "1d", "2026-06-01", "2026-10-01", seed=7)
    st.write(days)
    st.write(resample(days, "1w").drop(columns=["constituents", "expected_constituents"]))
    ex = Explorer(st, symbol="BTC", interval="1w")
    assert "as stored" in ex.status and (ex.frame.index.day_of_week == 0).all()  # Mondays
    ex.alignment_widget.value = "hyperliquid"
    assert "resampled from 1d" in ex.status and (ex.frame.index.day_of_week == 3).all()
    assert "hyperliquid alignment" in _title(ex)


def test_why_an_alignment_cannot_be_shown(tmp_path):
    st = Store(tmp_path)
    days = synthetic_candles("BTC", "1d", "2026-06-01", "2026-10-01", seed=7)
    st.write(resample(days, "1w").drop(columns=["constituents", "expected_constituents"]))
    ex = Explorer(st, symbol="BTC", interval="1w", alignment="hyperliquid")
    assert ex.figure is None and ex.output.outputs == ()
    assert "Cannot show BTC 1w with hyperliquid alignment" in ex.status
    assert "Backfill a finer interval" in ex.status
    ex.alignment_widget.value = "calendar"
    assert ex.figure is not None


def test_the_date_range(store):
    ex = Explorer(store, symbol="BTC", interval="1h", start="2026-10-02T05:00Z",
                  end="2026-10-03")
    assert ex.start_widget.value == dt.date(2026, 10, 2)
    assert ex.end_widget.value == dt.date(2026, 10, 2)  # end is exclusive
    assert len(ex.frame) == 24
    ex.end_widget.value = dt.date(2026, 10, 3)
    assert len(ex.frame) == 48
    ex.start_widget.value = dt.date(2026, 10, 5)
    assert ex.figure is None and "From date is after the To date" in ex.status


def test_a_long_range_shows_the_latest_candles(store):
    ex = Explorer(store, symbol="BTC", interval="1m", max_candles=200)
    assert "200 candle(s) (the latest of 1,440" in ex.status
    assert "latest 200 of 1,440 candles" in _title(ex)


def test_unknown_choices_fall_back_with_a_note_and_bad_ones_raise(store):
    ex = Explorer(store, symbol="DOGE", source="hyperliquid")
    assert ex.selection["symbol"] == "BTC" and ex.selection["source"] == "synthetic"
    assert ex.status.startswith("DOGE is not in the store; showing BTC.")
    assert "no hyperliquid candles for BTC" in ex.status
    with pytest.raises(InvalidIntervalError):
        Explorer(store, interval="7m")
    with pytest.raises(InvalidAlignmentError):
        Explorer(store, alignment="exchange")
    with pytest.raises(InvalidTimeError, match="after start"):
        Explorer(store, start="2026-10-03", end="2026-10-02")
    with pytest.raises(FormatError, match="max_candles"):
        Explorer(store, max_candles=1)


def test_an_empty_store_says_how_to_fill_it(tmp_path):
    ex = Explorer(tmp_path / "empty")
    assert ex.figure is None and ex.symbol_widget.value is None
    assert "make demo" in ex.status and "is empty" in ex.status
    bundle = ex._repr_mimebundle_()
    assert "image/png" not in bundle and "make demo" in bundle["text/html"]


def test_display_carries_the_widget_and_a_static_chart(store, monkeypatch):
    ex = Explorer(store, symbol="ETH")
    bundle = ex._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == ex.widget.model_id
    assert base64.b64decode(bundle["image/png"]) == _png(ex)
    assert "SYNTHETIC DATA" in bundle["text/html"] and "<img" in bundle["text/html"]
    assert bundle["text/plain"].startswith("Explorer: ETH 1h")
    shown = []
    monkeypatch.setattr("IPython.display.display",
                        lambda obj, raw=False: shown.append((obj, raw)))
    ex._ipython_display_()
    assert shown == [(bundle, True)]

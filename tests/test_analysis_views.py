"""What the analysis notebook shows: AnalysisReport and its tables (without a kernel)."""

from __future__ import annotations

import pytest

import candlekit as ck
from candlekit.analysis import printed_facts
from candlekit.analysis.views import AnalysisReport, facts_table, timeframes_table
from candlekit.store import Store
from candlekit.synthetic import synthetic_candles


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    st = Store(tmp_path_factory.mktemp("views-store"))
    st.write(synthetic_candles("SOL", "1h", "2026-01-01", "2026-03-15", seed=6))
    return AnalysisReport.run("SOL", "4h", store=st, prompt="trend and volume", horizon=3)


def test_the_tables_print_facts_as_the_narrative_does(report):
    a = report.analysis
    table = facts_table(a)
    printed = printed_facts(a.facts)
    for name in ("close", "rsi_14", "atr_pct", "call_p_up", "as_of"):
        assert table.loc[name, "value"] == printed[name]
    assert table.loc["close", "kind"] == "price"
    assert not [n for n in table.index if n.startswith("mtf_4h_")]  # in the timeframes table
    tf = timeframes_table(a)
    assert list(tf.index) == a.facts["mtf_intervals"].split(",")
    assert tf.loc["4h", "close"] == printed["close"]
    assert tf.attrs["alignment"] == a.facts["mtf_alignment"]


def test_each_cell_shows_its_part(report):
    a = report.analysis
    assert ck.get_analysis(a.id, report.store).to_dict() == a.to_dict()
    header = report.header()._repr_html_()
    assert "SYNTHETIC DATA" in header and a.id in header and "trend and volume" in header
    assert report.narrative()._repr_markdown_() == a.text
    assert "<th>rsi_14</th>" in report.facts()._repr_html_()
    md = report.caveats()._repr_markdown_()
    assert md.startswith("**Caveats**") and all(c in md for c in a.caveats)
    record = report.track_record()
    assert record.horizon == 3 and record.summary["n"] == a.facts["track_n"]
    assert record.summary["hits"] == a.facts["track_hits"]
    assert report.chart().axes and report.calibration().axes
    assert f"candlekit analyses show {a.id}" in report.recorded()._repr_markdown_()


def test_a_report_that_cannot_be_made_says_why_in_every_cell(tmp_path):
    st = Store(tmp_path)
    st.write(synthetic_candles("SOL", "1h", "2026-01-01", "2026-01-02", seed=6))  # 24 candles
    r = AnalysisReport.run("SOL", "1h", store=st)
    assert r.analysis is not None and r.analysis.status == "failed"  # recorded as failed
    assert "Only 24 closed candle(s)" in r.analysis.error
    for cell in (r.header, r.facts, r.chart, r.timeframes, r.track_record, r.calibration):
        html = cell()._repr_html_()
        assert "No analysis" in html and "make demo" in html and "Only 24" in html
    assert "could not be made" in r.narrative()._repr_markdown_()
    missing = AnalysisReport.run("DOGE", "1h", store=st)
    assert missing.analysis is None and "No DOGE 1h candles" in missing.header()._repr_html_()

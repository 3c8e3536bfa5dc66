"""``make demo``'s reports: the backfill report shows the task that did the second run's
work, with its note folded; both reports are rendered."""

from __future__ import annotations

import nbformat
import pytest

from candlekit.demo import run_demo
from candlekit.store import Store


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo-reports")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
        result = run_demo(Store(root / "store"), symbols=("BTC", "ETH"), intervals=("1m", "1h"),
                          start="2026-10-25", reports_dir=root / "reports", progress=False)
    return result, root


def _outputs(path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "\n".join(str(o.get("data", o.get("text", "")))
                     for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def test_the_backfill_report_shows_the_task_that_did_the_work(demo):
    result, root = demo
    first, second = result.tasks
    assert first.id != second.id
    st = second.status()
    assert st.status == "completed" and st.candles_fetched >= 2 * 2880  # two new days of 1m
    shown = _outputs(root / "reports" / "backfill.ipynb")
    assert second.id in shown and first.id not in shown
    assert f"{st.candles_fetched:,} candles" in shown


def test_the_backfill_reports_note_is_folded(demo):
    result, root = demo
    note = result.tasks[1].status().note
    assert note.count("not available upstream") == 2  # one part per 1m series, as stored
    shown = _outputs(root / "reports" / "backfill.ipynb")
    assert "BTC 1m, ETH 1m: emulator" in shown and "(each)" in shown
    assert shown.count("is not available upstream") == 2  # the Task's text and its HTML


def test_both_reports_are_rendered(demo):
    result, root = demo
    assert set(result.reports) == {"backfill", "coverage_report", "analysis"}
    assert all(p.is_file() and p.stat().st_size > 10_000 for p in result.reports.values())

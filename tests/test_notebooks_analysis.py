"""The analysis notebook, run by `candlekit report` (papermill + nbconvert) and by nbval.

A temporary store holds synthetic BTC 1h candles; the notebook analyses BTC 4h (resampled
from them), narrated by the local stub model over HTTP, and records the analysis.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import candlekit as ck
from candlekit.analysis.llmstub import LLMStub
from candlekit.cli import main
from candlekit.store import Store
from candlekit.synthetic import synthetic_candles

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "analysis.ipynb"
AS_OF = "2026-03-20T00:00Z"


@pytest.fixture(scope="module")
def store_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("analysis-nb-store")
    Store(root).write(synthetic_candles("BTC", "1h", "2026-01-01", "2026-04-01", seed=9))
    return root


def _outputs(nb, source: str) -> list[dict]:
    cells = [c for c in nb.cells if c.cell_type == "code" and c.source.strip() == source]
    assert len(cells) == 1, source
    return cells[0].outputs


def _data(outputs, mime: str) -> str:
    (value,) = [o["data"][mime] for o in outputs if mime in o.get("data", {})]
    return value


@pytest.fixture(scope="module")
def rendered(store_root, tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("analysis-report")
    with LLMStub("faithful") as stub, pytest.MonkeyPatch.context() as mp:
        mp.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
        code = main(["report", "analysis", "-p", "symbol", "BTC", "-p", "interval", "4h",
                     "-p", "as_of", AS_OF, "-p", "prompt", "levels and divergence",
                     "-p", "horizon", "4", "-p", "llm",
                     repr({"model": "stub-model", "base_url": stub.url}),
                     "--data", str(store_root), "--output-dir", str(out_dir), "--json"])
        requests = len(stub.requests)
    assert code == 0
    return nbformat.read(out_dir / "analysis.ipynb", as_version=4), out_dir, requests


def test_the_report_runs_every_cell_and_records_the_analysis(rendered, store_root):
    nb, out_dir, requests = rendered
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o["output_type"] == "error"]
    assert not errors
    assert requests == 1  # the kernel asked the stub model over HTTP
    (row,) = ck.analyses(store_root).itertuples()
    a = ck.get_analysis(row.id, store_root)
    assert (a.symbol, a.interval, a.prompt, a.call.horizon) == ("BTC", "4h",
                                                                "levels and divergence", 4)
    assert a.as_of == "2026-03-19T23:59:59.999Z" and a.model == "stub-model" and a.llm.accepted
    cell = next(c for c in nb.cells if c.source.startswith("from candlekit.analysis.views"))
    header = _data(cell.outputs, "text/html")
    assert "SYNTHETIC DATA" in header and a.id in header
    assert "Language model <code>stub-model</code>: accepted" in header
    assert _data(_outputs(nb, "report.narrative()"), "text/markdown") == a.text
    html = (out_dir / "analysis.html").read_text()
    assert "SYNTHETIC DATA" in html and a.id in html


def test_the_facts_chart_timeframes_caveats_and_track_record(rendered, store_root):
    nb, _, _ = rendered
    (row,) = ck.analyses(store_root).itertuples()
    a = ck.get_analysis(row.id, store_root)
    facts = _data(_outputs(nb, "report.facts()"), "text/html")
    close = ck.analysis.printed_facts(a.facts)["close"]
    assert re.search(rf"<th>close</th>\s*<td>{re.escape(close)}</td>", facts)
    assert _data(_outputs(nb, "report.chart()"), "image/png")
    tf = _data(_outputs(nb, "report.timeframes()"), "text/html")
    assert "<th>4h</th>" in tf and "<th>1d</th>" in tf
    caveats = _data(_outputs(nb, "report.caveats()"), "text/markdown")
    assert all(c in caveats for c in a.caveats) and "SYNTHETIC DATA" in caveats
    track = _data(_outputs(nb, "report.track_record()"), "text/markdown")
    n = a.facts["track_n"]
    assert track.startswith("**SYNTHETIC DATA.**") and f"Over {n:,} past 4h calls" in track
    assert _data(_outputs(nb, "report.calibration()"), "image/png")
    assert f"Recorded as **{a.id}**" in _data(_outputs(nb, "report.recorded()"),
                                              "text/markdown")


def test_on_an_empty_store_it_says_how_to_fill_it(tmp_path):
    import papermill as pm

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
        pm.execute_notebook(str(NOTEBOOK), str(tmp_path / "out.ipynb"),
                            parameters={"data_dir": str(tmp_path / "empty")},
                            kernel_name="python3", progress_bar=False, cwd=str(tmp_path))
    nb = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o["output_type"] == "error"]
    html = " ".join(o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {}))
    assert "No analysis" in html and "make demo" in html and "No BTC" in html


def test_nbval_runs_every_cell(store_root, tmp_path):
    store = tmp_path / "store"  # a copy: the notebook records its analysis in the store
    shutil.copytree(store_root, store)
    before = len(ck.analyses(store))
    env = {**os.environ, "CANDLEKIT_DATA": str(store),
           "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env",
         "--nbval-cell-timeout=120", "-p", "no:cacheprovider", "-o", "addopts=", "-q",
         str(NOTEBOOK)], check=False, cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    cells = len([c for c in json.loads(NOTEBOOK.read_text())["cells"]
                 if c["cell_type"] == "code"])
    assert re.search(rf"\b{cells} passed\b", result.stdout), result.stdout[-2000:]
    history = ck.analyses(store)
    assert len(history) == before + 1 and history.iloc[0]["status"] == "completed"


def test_the_demo_renders_the_analysis_report_on_its_store(tmp_path, monkeypatch):
    import candlekit.report
    from candlekit.demo import _render_analysis

    calls = []

    def fake_render(name, *, parameters, output_dir, progress):
        calls.append((name, parameters, output_dir))
        return candlekit.report.ReportResult(Path(output_dir) / f"{name}.ipynb",
                                             Path(output_dir) / f"{name}.html", parameters)

    monkeypatch.setattr(candlekit.report, "render_report", fake_render)
    store = Store(tmp_path / "demo")
    out = _render_analysis(store, ("BTC", "ETH"), ("1m", "1h"), tmp_path, progress=False)
    assert out == {"analysis": tmp_path / "analysis.html"}
    assert calls == [("analysis", {"symbol": "BTC", "interval": "4h",
                                   "data_dir": str(store.root)}, tmp_path)]
    # the parameters are the notebook's own (render_report refuses unknown ones)
    from candlekit.report import _declared_parameters

    assert set(calls[0][1]) <= _declared_parameters(nbformat.read(NOTEBOOK, as_version=4))
    assert _render_analysis(store, ("ETH",), ("1h",), tmp_path, progress=False) == {}

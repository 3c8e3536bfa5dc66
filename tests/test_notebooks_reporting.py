"""The coverage-report and explorer notebooks, executed by papermill and by nbval.

A temporary store is filled with synthetic candles (BTC and ETH, 1m and 1h, ETH with one
hole per interval) and ``CANDLEKIT_DATA`` points at it; the notebooks run in the
``python3`` Jupyter kernel, which must be this environment's Python.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from candlekit.store import Store
from candlekit.synthetic import synthetic_candles

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
COVERAGE_NB = NOTEBOOKS / "coverage_report.ipynb"
EXPLORER_NB = NOTEBOOKS / "explorer.ipynb"
START, END = "2026-10-01", "2026-10-04"
HOLES = {"1m": (pd.Timestamp("2026-10-02T03:00Z"), pd.Timestamp("2026-10-02T04:30Z")),
         "1h": (pd.Timestamp("2026-10-02T10:00Z"), pd.Timestamp("2026-10-02T12:00Z"))}


@pytest.fixture(scope="module")
def filled_store(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("notebook-store")
    st = Store(root)
    for symbol in ("BTC", "ETH"):
        for interval, (lo, hi) in HOLES.items():
            df = synthetic_candles(symbol, interval, START, END, seed=7)
            if symbol == "ETH":
                attrs = dict(df.attrs)
                df = df[(df.index < lo) | (df.index >= hi)]
                df.attrs = attrs
            st.write(df)
    return root


def _execute(notebook: Path, out: Path, data_dir: Path, parameters: dict) -> nbformat.NotebookNode:
    import papermill as pm

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CANDLEKIT_DATA", str(data_dir))
        mp.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
        pm.execute_notebook(str(notebook), str(out), parameters=parameters,
                            kernel_name="python3", progress_bar=False, cwd=str(out.parent))
    return nbformat.read(out, as_version=4)


@pytest.fixture(scope="module")
def coverage_nb(filled_store, tmp_path_factory) -> nbformat.NotebookNode:
    out = tmp_path_factory.mktemp("coverage-run") / "coverage_report.ipynb"
    return _execute(COVERAGE_NB, out, filled_store,
                    {"symbols": ["BTC", "ETH"], "intervals": ["1m", "1h"], "window": "2d"})


@pytest.fixture(scope="module")
def explorer_nb(filled_store, tmp_path_factory) -> nbformat.NotebookNode:
    out = tmp_path_factory.mktemp("explorer-run") / "explorer.ipynb"
    return _execute(EXPLORER_NB, out, filled_store,
                    {"symbol": "ETH", "interval": "4h", "start": "2026-10-02"})


def _outputs(nb: nbformat.NotebookNode, source: str | None = None) -> list[dict]:
    """Outputs of every code cell, or of the cell whose source is ``source``."""
    cells = [c for c in nb.cells if c.cell_type == "code"]
    if source is not None:
        cells = [c for c in cells if c.source.strip() == source]
        assert len(cells) == 1, f"no single cell {source!r}"
    return [o for c in cells for o in c.get("outputs", [])]


def _data(outputs: list[dict], mime: str) -> list[str]:
    return [o["data"][mime] for o in outputs if mime in o.get("data", {})]


class _Table(HTMLParser):
    """The rows of the first HTML table, as lists of cell texts."""

    def __init__(self, text: str):
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _records(html_table: str) -> list[dict[str, str]]:
    rows = _Table(html_table).rows
    header = rows[0][1:]  # the first header cell heads the index column
    return [dict(zip(header, row[1:])) for row in rows[1:]]


def test_the_python3_kernel_is_this_environment():
    from jupyter_client.manager import KernelManager

    cmd = KernelManager(kernel_name="python3").format_kernel_cmd()
    assert Path(cmd[0]).resolve() == Path(sys.executable).resolve()


ALL_NOTEBOOKS = sorted(NOTEBOOKS.glob("*.ipynb"))


def test_every_notebook_is_committed_clean_with_one_parameters_cell_of_literals():
    import ast

    assert {p.name for p in ALL_NOTEBOOKS} >= {"backfill.ipynb", "coverage_report.ipynb",
                                               "explorer.ipynb"}
    for path in ALL_NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert nb.metadata.kernelspec.name == "python3"
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), path.name
        tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
        assert tagged == [code[0]], path.name  # one parameters cell, the first code cell
        for node in ast.parse(code[0].source).body:  # literals only
            assert isinstance(node, ast.Assign), (path.name, ast.dump(node))
            ast.literal_eval(node.value)


def test_coverage_report_shows_the_synthetic_banner_and_the_tables(coverage_nb):
    outputs = _outputs(coverage_nb)
    assert not [o for o in outputs if o["output_type"] == "error"]
    html = _data(outputs, "text/html")
    assert any("SYNTHETIC DATA" in h for h in html)
    injected = [c for c in coverage_nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and 'window = "2d"' in injected[0].source

    (table,) = _data(_outputs(coverage_nb, "format_coverage(coverage)"), "text/html")
    rows = {(r["symbol"], r["interval"]): r for r in _records(table)}
    assert set(rows) == {("BTC", "1m"), ("BTC", "1h"), ("ETH", "1m"), ("ETH", "1h")}
    for key, row in rows.items():
        pct = float(row["completeness %"])
        assert (pct < 100) if key[0] == "ETH" else (pct == 100), (key, pct)
    lo, hi = HOLES["1m"]
    assert int(rows[("ETH", "1m")]["missing candles"]) == (hi - lo) // pd.Timedelta("1min")

    (gaps,) = _data(_outputs(coverage_nb, "gaps"), "text/html")
    gap_rows = _records(gaps)
    assert [(r["symbol"], r["interval"]) for r in gap_rows] == [("ETH", "1h"), ("ETH", "1m")]
    assert gap_rows[1]["start"] == str(lo) and gap_rows[1]["end"] == str(hi)


def test_coverage_report_draws_the_timeline_and_a_chart_per_series(coverage_nb):
    timeline = _outputs(coverage_nb, "plot_coverage_timeline(coverage, gaps)")
    assert len(_data(timeline, "image/png")) == 1
    charts = [o for c in coverage_nb.cells if "plot_series_windows" in c.source
              for o in c.outputs]
    assert len(_data(charts, "image/png")) == 4
    (cell,) = [c for c in coverage_nb.cells if c.source.startswith("findings = ")]
    assert len(_data(cell.outputs, "text/html")) == 1  # the summary (the data is clean)
    assert _data(_outputs(coverage_nb, "findings"), "text/html")


def test_coverage_report_on_an_empty_store_says_how_to_fill_it(tmp_path):
    nb = _execute(COVERAGE_NB, tmp_path / "out.ipynb", tmp_path / "no-store", {"window": "7d"})
    outputs = _outputs(nb)
    assert not [o for o in outputs if o["output_type"] == "error"]
    html = " ".join(_data(outputs, "text/html"))
    assert "is empty" in html and "make demo" in html and "candlekit backfill" in html
    assert "SYNTHETIC DATA" not in html


def test_explorer_notebook_draws_its_selection_without_a_frontend(explorer_nb):
    (display,) = [o for o in _outputs(explorer_nb) if o["output_type"] == "display_data"]
    data = display["data"]
    assert "application/vnd.jupyter.widget-view+json" in data
    assert data["image/png"]
    assert "ETH 4h" in data["text/html"] and "SYNTHETIC DATA" in data["text/html"]
    assert "resampled from 1h" in data["text/plain"]
    state = explorer_nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]
    models = state["state"].values()
    classes = {c for m in models for c in m["state"].get("_dom_classes", [])}
    assert {"candlekit-symbol", "candlekit-chart", "candlekit-status"} <= classes


def test_nbval_runs_every_cell_of_every_notebook(filled_store, tmp_path):
    # a probe notebook in the same run proves that nbval really executes cells, in this
    # environment's Python, with the store the report notebooks see
    marker = tmp_path / "probe.json"
    probe = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import json, os, sys\n"
        f"open({str(marker)!r}, 'w').write(json.dumps([sys.executable, "
        "os.environ['CANDLEKIT_DATA']]))")])
    probe.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}
    nbformat.write(probe, tmp_path / "probe.ipynb")
    store = tmp_path / "store"  # a copy: the backfill notebook writes into it
    shutil.copytree(filled_store, store)
    env = {**os.environ, "CANDLEKIT_DATA": str(store),
           "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env",
         "--nbval-cell-timeout=120", "-p", "no:cacheprovider", "-o", "addopts=", "-q",
         *map(str, ALL_NOTEBOOKS), str(tmp_path / "probe.ipynb")],
        check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    cells = sum(len([c for c in json.loads(p.read_text())["cells"] if c["cell_type"] == "code"])
                for p in ALL_NOTEBOOKS)
    assert re.search(rf"\b{cells + 1} passed\b", result.stdout), result.stdout[-2000:]
    executable, data = json.loads(marker.read_text())
    assert Path(executable).resolve() == Path(sys.executable).resolve()
    assert data == str(store)
    # the backfill notebook ran its default task against the in-kernel emulator
    assert "emulator" in Store(store).sources()

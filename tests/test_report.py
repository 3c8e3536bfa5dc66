"""Notebook reports: papermill execution with parameters, nbconvert HTML, clear failures."""

import json

import nbformat
import pytest

from candlekit.cli import main
from candlekit.errors import FormatError
from candlekit.report import ReportError, find_notebook, parse_parameters, render_report


def _notebook(path, body: str):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("n = 3\nlabel = 'default'")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Fixture report"), params,
                nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture
def fixture_nb(tmp_path):
    return _notebook(tmp_path / "fixture.ipynb",
                     "import candlekit\n"
                     "df = candlekit.synthetic_candles('BTC', '1h', '2025-01-01', "
                     "f'2025-01-01T{n:02d}:00Z')\n"
                     "print(f'{label}: {len(df)} candles')")


def test_parameters_are_literals_or_strings():
    got = parse_parameters([("n", "7"), ("symbols", "['BTC', 'ETH']"), ("start", "2025-07-01"),
                            ("end", "None"), ("flag", "True")])
    assert got == {"n": 7, "symbols": ["BTC", "ETH"], "start": "2025-07-01", "end": None,
                   "flag": True}
    with pytest.raises(FormatError, match="identifier"):
        parse_parameters([("not-a-name", "1")])


def test_render_runs_with_parameters_and_writes_html(fixture_nb, tmp_path):
    result = render_report(fixture_nb, parameters={"n": 5, "label": "custom"},
                           output_dir=tmp_path / "reports", progress=False)
    assert result.html == tmp_path / "reports" / "fixture.html"
    html = result.html.read_text()
    assert "custom: 5 candles" in html
    assert "synthetic_candles" not in html  # code hidden by default
    executed = nbformat.read(result.notebook, as_version=4)
    assert any("custom: 5 candles" in o.get("text", "") for c in executed.cells
               if c.cell_type == "code" for o in c.outputs)
    shown = render_report(fixture_nb, output_dir=tmp_path / "reports", show_code=True,
                          progress=False, name="with-code")
    assert "synthetic_candles" in shown.html.read_text()
    assert "default: 3 candles" in shown.html.read_text()


def test_unknown_parameter_is_refused_before_running(fixture_nb, tmp_path):
    with pytest.raises(FormatError, match="Unknown parameter.*nn.*takes: label, n"):
        render_report(fixture_nb, parameters={"nn": 1}, output_dir=tmp_path / "r",
                      progress=False)
    assert not (tmp_path / "r" / "fixture.ipynb").exists()


def test_failing_cell_keeps_the_executed_notebook(tmp_path):
    nb = _notebook(tmp_path / "bad.ipynb", "raise ValueError(f'boom {n}')")
    with pytest.raises(ReportError, match="ValueError: boom 4") as info:
        render_report(nb, parameters={"n": 4}, output_dir=tmp_path / "r", progress=False)
    assert info.value.notebook.is_file()
    assert not (tmp_path / "r" / "bad.html").exists()


def test_find_notebook_lists_bundled_names(tmp_path):
    with pytest.raises(FormatError, match="No notebook 'nope'"):
        find_notebook("nope")
    assert find_notebook(_notebook(tmp_path / "x.ipynb", "pass")).name == "x.ipynb"


def test_cli_report(fixture_nb, tmp_path, capsys):
    out_dir = tmp_path / "reports"
    assert main(["report", str(fixture_nb), "-p", "n", "2", "-p", "label", "cli",
                 "--output-dir", str(out_dir), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["parameters"] == {"n": 2, "label": "cli"}
    assert "cli: 2 candles" in (out_dir / "fixture.html").read_text()
    assert main(["report", str(fixture_nb), "-p", "bogus", "1", "--output-dir",
                 str(out_dir)]) == 2
    assert "Unknown parameter" in capsys.readouterr().err


def test_reports_are_readable_by_others(fixture_nb, tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        result = render_report(fixture_nb, output_dir=tmp_path / "r", progress=False)
    finally:
        os.umask(old)
    for path in (result.html, result.notebook):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644

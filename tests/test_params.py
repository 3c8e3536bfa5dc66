"""Notebook list parameters in every spelling a command line passes; empty selections refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from candlekit.errors import FormatError, SeriesNotFoundError
from candlekit.params import as_list, require_selection
from candlekit.store import Store
from candlekit.synthetic import synthetic_candles

BIN = Path(sys.executable).parent


@pytest.mark.parametrize("value", [
    ["BTC", "ETH"], ("BTC", "ETH"), "BTC,ETH", " BTC , ETH ", "['BTC', 'ETH']", '["BTC","ETH"]',
    "('BTC', 'ETH')", "[BTC, ETH]", "['BTC','ETH']",
])
def test_every_spelling_of_a_list(value):
    assert as_list(value, name="symbols") == ["BTC", "ETH"]


def test_one_value_and_names_with_punctuation():
    assert as_list("BTC", name="symbols") == ["BTC"]
    assert as_list("['BTC']", name="symbols") == ["BTC"]  # what papermill -p passes
    assert as_list("xyz:NVDA,@107,PURR/USDC", name="symbols") == ["xyz:NVDA", "@107",
                                                                  "PURR/USDC"]
    assert as_list(None, name="symbols") is None


@pytest.mark.parametrize("value", ["", "[]", "BTC,,ETH", ",", [""], [1, 2], 7, {"BTC": 1}])
def test_unusable_values_are_clear_errors(value):
    with pytest.raises(FormatError, match="symbols"):
        as_list(value, name="symbols")


def test_none_can_be_refused():
    with pytest.raises(FormatError, match="symbols is required"):
        as_list(None, name="symbols", allow_none=False)


def _cov(rows):
    return pd.DataFrame(rows, columns=["symbol", "interval", "source"])


def test_require_selection_names_what_is_missing_and_what_is_stored():
    stored = _cov([("BTC", "1h", "emulator"), ("ETH", "1h", "emulator")])
    sel = stored[stored["symbol"] == "BTC"]
    assert require_selection(sel, symbols=["BTC"], window="7d", stored=stored) is sel
    with pytest.raises(SeriesNotFoundError, match=r"symbols 'NOPE'.*holds symbols BTC, ETH"):
        require_selection(sel, symbols=["BTC", "NOPE"], stored=stored)
    with pytest.raises(SeriesNotFoundError, match=r"matches symbols=\['\[BTC\]'\]"):
        require_selection(stored.iloc[:0], symbols=["[BTC]"], stored=stored)
    with pytest.raises(SeriesNotFoundError, match="No candles are stored in /nowhere"):
        require_selection(stored.iloc[:0], root="/nowhere", symbols=["BTC"],
                          stored=stored.iloc[:0])
    # no selection: an empty store is reported as empty (the notebook says how to fill it)
    empty = stored.iloc[:0]
    assert require_selection(empty, window="7d", stored=empty) is empty


def test_coverage_report_with_an_unknown_symbol_fails_instead_of_rendering_empty(tmp_path):
    store = tmp_path / "store"
    Store(store).write(synthetic_candles("BTC", "1h", "2026-10-01", "2026-10-03"))
    proc = subprocess.run(
        [str(BIN / "candlekit"), "report", "coverage_report", "--data", str(store),
         "--output-dir", str(tmp_path / "reports"), "-p", "symbols", "BTC,NOPE"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "SeriesNotFoundError" in proc.stderr and "'NOPE'" in proc.stderr
    assert not (tmp_path / "reports" / "coverage_report.html").exists()

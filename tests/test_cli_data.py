"""``candlekit data``: exports of synthetic candles say so in every format; real ones do not."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pandas as pd
import pyarrow.parquet as pq
import pytest

from candlekit.cli import main
from candlekit.provenance import SYNTHETIC_BANNER
from candlekit.store import Store
from candlekit.synthetic import synthetic_candles


@pytest.fixture
def store(tmp_path):
    st = Store(tmp_path / "store")
    st.write(synthetic_candles("BTC", "1h", "2026-10-01", "2026-10-02"))  # source synthetic
    real = synthetic_candles("ETH", "1h", "2026-10-01", "2026-10-02")
    real.attrs["source"] = "hyperliquid"  # stands in for real candles
    st.write(real)
    return st


def _data(store, *argv):
    return ["data", *argv, "--interval", "1h", "--data", str(store.root)]


def test_csv_on_stdout_is_clean_and_the_banner_is_on_stderr(store):
    # a pipe, as in `candlekit data BTC ... > file.csv`: the banner must still be shown
    proc = subprocess.run([sys.executable, "-m", "candlekit.cli", *_data(store, "BTC")],
                          capture_output=True, text=True, check=True)
    assert SYNTHETIC_BANNER in proc.stderr
    assert "SYNTHETIC" not in proc.stdout
    df = pd.read_csv(io.StringIO(proc.stdout))
    assert list(df.columns[:3]) == ["time", "close_time", "open"] and len(df) == 24


def test_csv_of_real_data_has_no_banner(store, capsys):
    assert main(_data(store, "ETH")) == 0
    out, err = capsys.readouterr()
    assert "SYNTHETIC" not in err and len(pd.read_csv(io.StringIO(out))) == 24


def test_csv_file_export_says_synthetic_on_stderr(store, tmp_path, capsys):
    out = tmp_path / "btc.csv"
    assert main(_data(store, "BTC", "-o", str(out))) == 0
    err = capsys.readouterr().err
    assert SYNTHETIC_BANNER in err and "(SYNTHETIC DATA)" in err
    assert "SYNTHETIC" not in out.read_text() and len(pd.read_csv(out)) == 24


@pytest.mark.parametrize("argv", [("--json",), ("--format", "json")])
def test_json_records_carry_the_synthetic_flag(store, capsys, argv):
    assert main(_data(store, "BTC", *argv)) == 0
    out, err = capsys.readouterr()
    rows = json.loads(out)
    assert len(rows) == 24
    assert all(r["synthetic"] is True and r["source"] == "synthetic" for r in rows)
    assert SYNTHETIC_BANNER in err
    assert main(_data(store, "ETH", *argv)) == 0
    rows = json.loads(capsys.readouterr().out)
    assert all(r["synthetic"] is False and r["source"] == "hyperliquid" for r in rows)


def test_parquet_metadata_says_synthetic(store, tmp_path, capsys):
    for symbol, synthetic in (("BTC", True), ("ETH", False)):
        out = tmp_path / f"{symbol}.parquet"
        assert main(_data(store, symbol, "--format", "parquet", "-o", str(out))) == 0
        meta = json.loads(pq.read_schema(out).metadata[b"candlekit"])
        assert meta["synthetic"] is synthetic and meta["symbol"] == symbol
        assert meta["interval"] == "1h"
        assert ("notice" in meta) is synthetic
        back = pd.read_parquet(out)
        assert len(back) == 24 and list(back.columns[:2]) == ["time", "close_time"]
    assert "SYNTHETIC" in capsys.readouterr().err

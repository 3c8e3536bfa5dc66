"""The candlekit command line: tables, --json, stderr errors and exit codes."""

import json
import subprocess
import sys

import pytest

from candlekit.cli import main
from candlekit.store import Store
from candlekit.synthetic import synthetic_candles


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "store")
    df = synthetic_candles("PURR/USDC", "1h", "2025-03-01", "2025-03-03", seed=3)
    holed = df.drop(df.index[5:8])  # 05:00, 06:00 and 07:00 missing
    holed.attrs = dict(df.attrs)
    s.write(holed)
    return s


def test_coverage_json(store, capsys):
    assert main(["coverage", "--data", str(store.root), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["symbol"] == "PURR/USDC" and rows[0]["interval"] == "1h"
    assert rows[0]["total_candles"] == 48 - 3 and rows[0]["source"] == "synthetic"


def test_coverage_table_says_synthetic(store, capsys):
    assert main(["coverage", "--data", str(store.root)]) == 0
    out = capsys.readouterr().out
    assert "SYNTHETIC DATA" in out and "PURR/USDC" in out


def test_gaps(store, capsys):
    assert main(["gaps", "PURR/USDC", "--interval", "1h", "--data", str(store.root),
                 "--json"]) == 0
    gaps = json.loads(capsys.readouterr().out)
    assert len(gaps) == 1 and gaps[0]["missing_candles"] == 3
    assert gaps[0]["start"].startswith("2025-03-01T05:00:00")
    assert gaps[0]["end"].startswith("2025-03-01T08:00:00")  # exclusive: [05:00, 08:00)


def test_symbols(store, capsys):
    assert main(["symbols", "--data", str(store.root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"symbols": ["PURR/USDC"]}


@pytest.mark.parametrize("argv, needle", [
    (["gaps", "PURR/USDC", "--interval", "45m"], "Invalid interval"),
    (["gaps", "NOPE", "--interval", "1h"], "NOPE"),
])
def test_errors_go_to_stderr_with_exit_code(store, capsys, argv, needle):
    assert main([*argv, "--data", str(store.root)]) == 2
    captured = capsys.readouterr()
    assert needle in captured.err and captured.out == ""


def test_console_script_help():
    out = subprocess.run([sys.executable, "-m", "candlekit.cli", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for command in ("demo", "coverage", "gaps", "symbols"):
        assert command in out


def test_data_csv_has_open_and_close_times(store, capsys):
    assert main(["data", "PURR/USDC", "--interval", "1h", "--data", str(store.root),
                 "--start", "2025-03-02", "--end", "2025-03-02T03:00Z"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split(",")[:3] == ["time", "close_time", "open"]
    assert len(lines) == 1 + 3
    assert lines[1].startswith("2025-03-02T00:00:00.000000Z,2025-03-02T00:59:59.999000Z,")


def test_data_json_and_parquet_file(store, tmp_path, capsys):
    import pandas as pd

    assert main(["data", "PURR/USDC", "--interval", "1h", "--data", str(store.root),
                 "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 45 and rows[0]["closed"] is True
    out = tmp_path / "x.parquet"
    assert main(["data", "PURR/USDC", "--interval", "1h", "--data", str(store.root),
                 "--format", "parquet", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "wrote 45" in err and "SYNTHETIC" in err
    back = pd.read_parquet(out)
    stored = store.read("PURR/USDC", "1h")
    assert (back["close"].to_numpy() == stored["close"].to_numpy()).all()


def test_data_parquet_needs_output(store, capsys):
    assert main(["data", "PURR/USDC", "--interval", "1h", "--data", str(store.root),
                 "--format", "parquet"]) == 2
    assert "--output" in capsys.readouterr().err


def test_resample_prints_and_writes(store, capsys):
    from candlekit.resample import resample

    assert main(["resample", "PURR/USDC", "--from", "1h", "--to", "4h", "--data",
                 str(store.root), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    expected = resample(store.read("PURR/USDC", "1h"), "4h")
    assert len(rows) == len(expected) == 12
    assert [r["close"] for r in rows] == expected["close"].tolist()
    assert main(["resample", "PURR/USDC", "--from", "1h", "--to", "1d", "--write",
                 "--data", str(store.root)]) == 0
    out = capsys.readouterr().out
    assert "SYNTHETIC DATA" in out and "stored 2" in out
    assert len(store.read("PURR/USDC", "1d")) == 2


def test_resample_unknown_series_is_an_error(store, capsys):
    assert main(["resample", "BTC", "--from", "1m", "--to", "1h", "--data",
                 str(store.root)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("candlekit resample: error:") and "BTC" in err


def test_import_file_and_directory(tmp_path, capsys, freqtrade_dir):
    import pandas as pd

    csv = tmp_path / "prices.csv"
    pd.DataFrame({"timestamp": ["2025-01-01T00:00Z", "2025-01-01T01:00Z"],
                  "o": [1.0, 2.0], "h": [2.0, 3.0], "l": [0.5, 1.5], "c": [2.0, 2.5],
                  "v": [10.0, 20.0]}).to_csv(csv, index=False)
    data = str(tmp_path / "store")
    assert main(["import", str(csv), "--symbol", "ABC", "--interval", "1h", "--data", data,
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["inserted"] == 2
    assert Store(data).read("ABC", "1h", source="file")["close"].tolist() == [2.0, 2.5]
    assert main(["import", str(csv), "--data", data]) == 2
    assert "--symbol" in capsys.readouterr().err
    assert main(["import", str(freqtrade_dir), "--pair", "BTC", "--interval", "1d",
                 "--data", data, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["symbol"], r["interval"]) for r in rows] == [("BTC", "1d")]
    assert rows[0]["inserted"] == rows[0]["candles"] > 300


def test_symbols_upstream_lists_perps_hip3_and_spot(capsys):
    from candlekit.emulator import Emulator

    with Emulator("hyperliquid", now="2026-11-01T00:00Z", budget=None) as emu:
        assert main(["symbols", "--upstream", "emulator", "--base-url", emu.url,
                     "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    kinds = {r["symbol"]: r["kind"] for r in rows}
    assert kinds["BTC"] == "perp" and kinds["xyz:NVDA"] == "hip3"
    assert kinds["@107"] == "spot" and kinds["PURR/USDC"] == "spot"


def test_coverage_shows_completeness_over_a_window(store, capsys):
    assert main(["coverage", "--data", str(store.root), "--window", "1d", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert row["expected_candles"] == 24 and row["window_candles"] == 24  # 2025-03-02 whole
    assert row["total_candles"] == 45  # beside the window: the whole stored series
    assert main(["coverage", "--data", str(store.root), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert row["missing_candles"] == 3 and row["completeness_pct"] < 100
    assert main(["coverage", "--data", str(store.root)]) == 0
    assert "completeness" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [
    ["coverage"], ["gaps", "BTC", "--interval", "1h"], ["data", "BTC", "--interval", "1h"],
    ["resample", "BTC", "--from", "1m", "--to", "1h"], ["symbols"], ["tasks", "list"],
    ["tasks", "status", "bf-00000000"],
])
def test_reading_commands_say_there_is_no_store(tmp_path, capsys, argv):
    missing = tmp_path / "no-such-store"
    assert main([*argv, "--data", str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"No candle store at {missing}" in err and "does not exist" in err
    assert not missing.exists()


def test_reading_commands_check_the_default_store_too(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CANDLEKIT_DATA", raising=False)
    assert main(["coverage"]) == 2
    assert "the default store ./data" in capsys.readouterr().err
    monkeypatch.setenv("CANDLEKIT_DATA", str(tmp_path / "env-store"))
    assert main(["coverage"]) == 2
    assert "$CANDLEKIT_DATA" in capsys.readouterr().err


def _candle_file(tmp_path):
    from candlekit.synthetic import synthetic_candles

    path = tmp_path / "btc.csv"
    synthetic_candles("BTC", "1h", "2026-10-01", "2026-10-02").reset_index().to_csv(
        path, index=False)
    return path


def test_writing_commands_create_a_new_store_only_where_its_parent_exists(tmp_path, capsys):
    path = _candle_file(tmp_path)
    typo = tmp_path / "no-such-parent" / "store"
    args = ["import", str(path), "--symbol", "BTC", "--interval", "1h"]
    assert main([*args, "--data", str(typo)]) == 2
    assert "its parent" in capsys.readouterr().err and not typo.parent.exists()
    fresh = tmp_path / "fresh"
    assert main([*args, "--data", str(fresh)]) == 0
    assert main(["coverage", "--data", str(fresh), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])[0]["total_candles"] == 24


def test_a_file_is_not_a_store(tmp_path, capsys):
    path = _candle_file(tmp_path)
    assert main(["coverage", "--data", str(path)]) == 2
    assert "is a file" in capsys.readouterr().err


def test_times_on_the_command_line_take_epoch_ms_and_iso(store, capsys):
    common = ["data", "PURR/USDC", "--interval", "1h", "--data", str(store.root), "--json"]
    start = 1_740_830_400_000  # 2025-03-01T12:00:00Z
    outputs = []
    for spelled in (str(start), "2025-03-01T12:00:00Z", "2025-03-01T13:00+01:00"):
        assert main([*common, "--start", spelled, "--end", "2025-03-02"]) == 0
        outputs.append(json.loads(capsys.readouterr().out))
    assert outputs[0] == outputs[1] == outputs[2] and len(outputs[0]) == 12
    assert outputs[0][0]["time"].startswith("2025-03-01T12:00:00")


@pytest.mark.parametrize(("spelled", "needle"), [
    ("01/03/2025", "'2025-03-01' or '2025-01-03'"),
    ("1740830400", "looks like epoch seconds"),
])
def test_ambiguous_times_on_the_command_line_are_refused(store, capsys, spelled, needle):
    assert main(["gaps", "PURR/USDC", "--interval", "1h", "--data", str(store.root),
                 "--start", spelled]) == 2
    assert needle in capsys.readouterr().err


def test_coverage_names_a_corrupted_file_in_the_table_not_as_a_warning(store, capsys):
    import warnings

    eth = synthetic_candles("ETH", "1h", "2025-03-01", "2025-03-02", seed=4)
    store.write(eth)
    bad = store.series_path("ETH", "1h", source="synthetic") / "period=2025-01-01" / "part-0.parquet"
    bad.write_bytes(b"not parquet")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["coverage", "--data", str(store.root)]) == 0
    captured = capsys.readouterr()
    assert captured.out.count(str(bad)) == 1 and "UNREADABLE" in captured.out
    assert "PURR/USDC" in captured.out and "Warning" not in captured.err

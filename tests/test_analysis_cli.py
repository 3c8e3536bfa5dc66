"""candlekit analyze and candlekit analyses [list|show|grade|delete]."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from candlekit.analysis.llmstub import LLMStub
from candlekit.cli import main
from candlekit.provenance import SYNTHETIC_BANNER
from candlekit.store import Store
from candlekit.synthetic import synthetic_candles


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-analysis-store")
    Store(root).write(synthetic_candles("BTC", "1h", "2026-02-01", "2026-04-01", seed=4))
    return root


@pytest.fixture()
def data(filled, tmp_path):
    root = tmp_path / "store"
    shutil.copytree(filled, root)
    return str(root)


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_analyze_prints_the_narrative_under_the_synthetic_banner_and_records_it(data, capsys):
    code, out, err = _run(capsys, "analyze", "BTC", "--interval", "4h", "--data", data,
                          "--prompt", "levels and divergence", "--as-of", "2026-03-20")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == SYNTHETIC_BANNER and lines[-1] == SYNTHETIC_BANNER
    m = re.match(r"analysis (an-[0-9a-f]{8}): completed \| BTC 4h as of "
                 r"2026-03-19T23:59:59\.999Z, source synthetic", lines[1])
    assert m, lines[1]
    assert "## Levels" in out and "## Divergence" in out and "prompt: levels and divergence" in out
    assert re.search(r"^call: (up|down|flat) over the next \d+ bars, P\(up\) \d+\.\d%", out, re.MULTILINE)
    code, out, _ = _run(capsys, "analyses", "--data", data)
    assert code == 0 and m.group(1) in out and out.startswith(SYNTHETIC_BANNER)


def test_analyze_json_gives_the_seed_detail_shape(data, capsys):
    code, out, _ = _run(capsys, "analyze", "BTC", "-i", "1h", "--data", data, "--json",
                        "--horizon", "4", "--lookback", "300")
    assert code == 0
    d = json.loads(out)
    assert {"id", "symbol", "status", "analysis", "created_at"} <= set(d)
    assert d["status"] == "completed" and d["synthetic"] is True
    assert d["call"]["horizon"] == 4 and d["facts"]["bars_used"] == 300
    code, out, _ = _run(capsys, "analyses", "show", d["id"], "--data", data, "--json")
    assert json.loads(out) == d
    code, out, _ = _run(capsys, "analyses", "list", "--json", "--data", data)
    (row,) = json.loads(out)
    assert row["id"] == d["id"] and row["p_up"] == d["call"]["p_up"]


def test_analyze_with_a_model_through_the_stub(data, capsys):
    with LLMStub("faithful") as stub:
        code, out, err = _run(capsys, "analyze", "BTC", "-i", "1h", "--data", data,
                              "--llm", "stub-model", "--llm-url", stub.url)
        assert code == 0, err
        assert "language model stub-model: accepted; every number" in out
        assert "Narrated by the language model `stub-model`" in out
        stub.mode = "invented"
        code, out, err = _run(capsys, "analyze", "BTC", "-i", "1h", "--data", data,
                              "--llm", "other-model", "--llm-url", stub.url)
    assert code == 0, err
    assert re.search(r"language model other-model: rejected: the model wrote [\d,]+; no fact "
                     r"has that value; the text above is candlekit's own", out)
    code, out, _ = _run(capsys, "analyses", "--data", data)
    assert "other-model" in out and "stub-model" in out


def test_show_grade_delete(data, capsys):
    _, out, _ = _run(capsys, "analyze", "BTC", "-i", "1h", "--data", data, "--json",
                     "--as-of", "2026-03-01", "--horizon", "3")
    first = json.loads(out)["id"]
    _, out, _ = _run(capsys, "analyze", "BTC", "-i", "1h", "--data", data, "--json")
    latest = json.loads(out)["id"]
    code, out, _ = _run(capsys, "analyses", "show", first, "--data", data)
    assert code == 0 and f"analysis {first}: completed" in out
    code, out, _ = _run(capsys, "analyses", "grade", "--data", data)
    assert code == 0 and out.startswith(SYNTHETIC_BANNER)
    assert re.search(r"^1 graded call\(s\): right (0\.0|100\.0)% \[", out, re.MULTILINE)
    assert "1 pending (their horizon has not closed in the store)" in out
    assert "can be graded once the 1h candle closing at" in out
    code, out, _ = _run(capsys, "analyses", "grade", "--json", "--data", data)
    graded = json.loads(out)
    assert graded["summary"]["n"] == 1 and graded["summary"]["pending"] == 1
    assert {c["id"]: c["status"] for c in graded["calls"]} == {first: "graded",
                                                                latest: "pending"}
    code, out, _ = _run(capsys, "analyses", "delete", first, "--data", data)
    assert code == 0 and f"deleted analysis {first}" in out
    code, out, err = _run(capsys, "analyses", "show", first, "--data", data)
    assert code == 2 and f"No analysis '{first}'" in err


@pytest.mark.parametrize("argv, message", [
    (("analyze", "DOGE", "-i", "1h"), "No DOGE 1h candles"),
    (("analyze", "BTC", "-i", "15m"), "no stored finer interval tiles 15m"),
    (("analyze", "BTC", "-i", "2h", "--llm-url", "http://127.0.0.1:9/v1"), "needs --llm MODEL"),
    (("analyze", "BTC", "-i", "1h", "--horizon", "0"), "horizon must be a positive"),
    (("analyze", "BTC", "-i", "1h", "--as-of", "yesterday-ish"), ""),
])
def test_bad_input_is_a_clear_error_with_exit_code_2(data, capsys, argv, message):
    code, out, err = _run(capsys, *argv, "--data", data)
    assert code == 2 and err.startswith("candlekit analyze: error: ") and message in err
    assert out == ""


def test_a_model_on_openais_endpoint_without_a_key_is_refused_before_recording(
        data, capsys, monkeypatch):
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "CANDLEKIT_LLM_URL"):
        monkeypatch.delenv(var, raising=False)
    code, out, err = _run(capsys, "analyze", "BTC", "-i", "1h", "--data", data, "--llm",
                          "gpt-4o-mini")
    assert code == 2 and "set $OPENAI_API_KEY" in err and "--llm-url" in err
    code, out, err = _run(capsys, "analyze", "BTC", "-i", "1h", "--data", data, "--llm",
                          "gpt-4o-mini", "--llm-key-env", "MY_KEY")
    assert code == 2 and "set $MY_KEY" in err
    code, out, _ = _run(capsys, "analyses", "--data", data)
    assert out.strip() == "(none)"


def test_grade_summarises_per_series(data, capsys):
    for interval in ("1h", "4h"):
        assert _run(capsys, "analyze", "BTC", "-i", interval, "--data", data, "--as-of",
                    "2026-03-01")[0] == 0
    code, out, _ = _run(capsys, "analyses", "grade", "--data", data)
    assert code == 0
    per = out.split("per series\n", 1)[1].splitlines()
    assert per[0].split() == ["symbol", "interval", "source", "n", "hit_rate", "base_rate_up",
                              "brier_skill", "pending", "missing"]
    assert [line.split()[:4] for line in per[1:3]] == [["BTC", "1h", "synthetic", "1"],
                                                      ["BTC", "4h", "synthetic", "1"]]

"""The analysis registry: SQLite in <root>/_candlekit/analyses.sqlite."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import threading

import pytest

from candlekit.analysis.model import Analysis, Call, LLMVerdict
from candlekit.analysis.registry import LIST_COLUMNS, AnalysisRegistry, analysis_from_dict
from candlekit.errors import AnalysisNotFoundError, CandlekitError, StoreError
from candlekit.store import Store
from candlekit.synthetic import synthetic_candles


def _finished(reg: AnalysisRegistry, symbol="BTC", *, as_of="2026-10-01T03:59:59.999Z",
              direction="up", llm=None) -> Analysis:
    running = reg.create(symbol, "4h", source="emulator", prompt="levels",
                         model=None if llm is None else llm.model, synthetic=True,
                         request={"lookback": 2000})
    done = Analysis(symbol=symbol, interval="4h", as_of=as_of,
                    facts={"close": 100.5, "rsi_14": 55.0, "trend": "uptrend"},
                    text="**Close 100.5**", caveats=["SYNTHETIC DATA"],
                    sections=["levels", "call"], prompt="levels", llm=llm,
                    call=Call("up" if direction == "up" else direction, 0.61, 6, 100.5, as_of,
                              1.25),
                    id=running.id, source="emulator", synthetic=True)
    return reg.complete(done)


def test_create_complete_get_round_trips_the_whole_record(tmp_path):
    store = Store(tmp_path)
    reg = AnalysisRegistry(store)
    assert reg.path == store.meta_path("analyses.sqlite")
    verdict = LLMVerdict("m", False, "the model wrote 1; no fact has that value", "p", "r")
    done = _finished(reg, llm=verdict)
    assert re.fullmatch(r"an-[0-9a-f]{8}", done.id)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z", done.created_at)
    got = reg.get(done.id)
    assert got.to_dict() == done.to_dict()
    assert got.status == "completed" and got.llm == verdict and got.model == "m"
    assert analysis_from_dict(done.to_dict()) == done
    assert reg.request(done.id) == {"lookback": 2000}
    with sqlite3.connect(reg.path) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # the registry lives under _candlekit/, which the store never lists as a series
    assert store.series() == [] and store.sources() == []


def test_list_is_newest_first_with_the_history_columns(tmp_path):
    reg = AnalysisRegistry(tmp_path)
    assert list(reg.list().columns) == list(LIST_COLUMNS) and reg.list().empty
    first = _finished(reg, "BTC")
    second = _finished(reg, "ETH", direction="down")
    running = reg.create("SOL", "1h")
    table = reg.list()
    assert list(table["id"]) == [running.id, second.id, first.id]
    assert list(table["status"]) == ["running", "completed", "completed"]
    row = table.iloc[1]
    assert (row["symbol"], row["direction"], row["p_up"], row["horizon"]) == ("ETH", "down",
                                                                            0.61, 6)
    assert row["synthetic"] and row["source"] == "emulator" and row["prompt"] == "levels"


def test_failures_are_recorded_with_the_error(tmp_path):
    reg = AnalysisRegistry(tmp_path)
    running = reg.create("BTC", "1h")
    failed = reg.fail(running.id, "AnalysisError: only 3 closed candles")
    assert failed.status == "failed" and reg.get(running.id).error == (
        "AnalysisError: only 3 closed candles")
    assert reg.list().iloc[0]["error"] == "AnalysisError: only 3 closed candles"


def test_unknown_ids_are_lookup_errors_and_delete_removes_only_the_record(tmp_path):
    store = Store(tmp_path)
    store.write(synthetic_candles("BTC", "1h", "2026-10-01", "2026-10-02"))
    reg = AnalysisRegistry(store)
    for fn in (reg.get, reg.delete):  # no registry file yet: none is created
        with pytest.raises(AnalysisNotFoundError, match="an-00000000") as info:
            fn("an-00000000")
        assert isinstance(info.value, LookupError) and isinstance(info.value, CandlekitError)
        assert "candlekit analyses list" in str(info.value)
    assert not reg.path.exists()
    done = _finished(reg)
    reg.delete(done.id)
    with pytest.raises(AnalysisNotFoundError):
        reg.get(done.id)
    assert len(store.read("BTC", "1h")) == 24


def test_a_running_analysis_whose_process_died_is_reported_failed(tmp_path):
    code = ("import sys; from candlekit.analysis.registry import AnalysisRegistry; "
            "print(AnalysisRegistry(sys.argv[1]).create('BTC', '1h').id)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True,
                         capture_output=True, text=True)
    analysis_id = out.stdout.strip()
    reg = AnalysisRegistry(tmp_path)
    got = reg.get(analysis_id)
    assert got.status == "failed" and got.error.startswith("interrupted: process ")
    with sqlite3.connect(reg.path) as con:  # persisted, not only reported
        assert con.execute("SELECT status FROM analyses WHERE id=?",
                           (analysis_id,)).fetchone()[0] == "failed"
    # one of ours, still running in this live process, stays running
    assert reg.get(reg.create("ETH", "1h").id).status == "running"


def test_threads_record_concurrently_without_losing_any(tmp_path):
    reg = AnalysisRegistry(tmp_path)
    ids: list[str] = []

    def work():
        for _ in range(10):
            ids.append(_finished(AnalysisRegistry(tmp_path)).id)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 40 and set(reg.list()["id"]) == set(ids)


def test_the_response_cache_survives_a_new_registry_object(tmp_path):
    cache = AnalysisRegistry(tmp_path).cache()
    assert cache.get("k") is None and len(cache) == 0
    cache.put("k", model="m", prompt="p", response="prose")
    again = AnalysisRegistry(tmp_path).cache()
    assert again.get("k") == "prose" and len(again) == 1
    with sqlite3.connect(again.registry.path) as con:
        assert con.execute("SELECT hits, model, prompt FROM llm_cache").fetchone() == (
            1, "m", "p")


def test_a_corrupted_registry_file_is_a_clear_store_error(tmp_path):
    reg = AnalysisRegistry(tmp_path)
    reg.path.parent.mkdir(parents=True)
    reg.path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="move the file away"):
        reg.list()

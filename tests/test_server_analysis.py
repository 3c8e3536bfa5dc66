"""The AI analysis endpoints against a store built here, through candlekit.run_analysis and
its registry: start (running at once), detail (the seed's fields), history, the same
registry as ck.run_analysis, and errors."""

from __future__ import annotations

import re
import time

import pytest
from _server_helpers import put, synthetic
from fastapi.testclient import TestClient

import candlekit as ck
from candlekit.server import create_app
from candlekit.store import Store

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    st = Store(tmp_path_factory.mktemp("analysis"))
    put(st, synthetic("BTC", "1h", "2025-10-01", "2026-10-01"))
    return st


@pytest.fixture(scope="module")
def client(store):
    with TestClient(create_app(store, run_worker=False)) as c:
        yield c


def _wait(client, analysis_id, timeout=120.0):
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(f"/api/klines/ai-analysis/{analysis_id}").json()
        if body["status"] != "running" or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def test_seed_example_request_then_detail_and_history(client, store):
    r = client.post("/api/klines/ai-analysis", json={"symbol": "BTC", "interval": "4h"})
    assert r.status_code == 202
    created = r.json()
    assert set(created) == {"analysis_id", "status"} and created["status"] == "running"
    assert created["analysis_id"].startswith("an-")
    detail = _wait(client, created["analysis_id"])
    assert detail["status"] == "completed", detail.get("error")
    for key in ("id", "symbol", "status", "analysis", "created_at"):
        assert key in detail
    assert detail["id"] == created["analysis_id"] and detail["symbol"] == "BTC"
    assert isinstance(detail["analysis"], str) and detail["analysis"]
    assert ISO_Z.match(detail["created_at"])
    assert detail == ck.get_analysis(created["analysis_id"], store=store).to_dict()
    history = client.get("/api/klines/ai-analysis/history").json()
    row = next(h for h in history if h["id"] == created["analysis_id"])
    assert (row["symbol"], row["status"]) == ("BTC", "completed")
    assert ISO_Z.match(row["created_at"])


def test_prompt_and_the_shared_registry(client, store):
    r = client.post("/api/klines/ai-analysis", json={"symbol": "BTC", "interval": "1d",
                                                      "prompt": "levels"})
    analysis_id = r.json()["analysis_id"]
    detail = _wait(client, analysis_id)
    assert detail["prompt"] == "levels" and detail["interval"] == "1d"
    assert analysis_id in set(ck.analyses(store=store)["id"])
    mine = ck.run_analysis("BTC", "1h", store=store)     # recorded by the library
    ids = [h["id"] for h in client.get("/api/klines/ai-analysis/history").json()]
    assert mine.id in ids and ids.index(mine.id) < ids.index(analysis_id)  # newest first


@pytest.mark.parametrize("method, url, body, status, code", [
    ("get", "/api/klines/ai-analysis/an-00000000", None, 404, "not_found"),
    ("post", "/api/klines/ai-analysis", {"symbol": "DOGE", "interval": "4h"}, 404,
     "not_found"),
    ("post", "/api/klines/ai-analysis", {"symbol": "BTC", "interval": "2m"}, 400,
     "invalid_interval"),
    ("post", "/api/klines/ai-analysis", {"interval": "4h"}, 422, "invalid_request"),
])
def test_errors(client, method, url, body, status, code):
    r = getattr(client, method)(url, **({"json": body} if body is not None else {}))
    assert r.status_code == status, r.text
    assert r.json()["error"] == code and r.json()["message"]

"""Tokens (401 without, constant-time compare), the bind rule (refuse a non-loopback
address without a token unless --insecure), body limits (413), CORS off unless asked,
docs off and the OpenAPI document protected like the rest."""

from __future__ import annotations

import subprocess
import sys

import pytest
from _server_helpers import put, synthetic
from fastapi.testclient import TestClient

from candlekit.server import BindError, check_bind, create_app, serve
from candlekit.server.auth import is_loopback, token_ok
from candlekit.store import Store


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    st = Store(tmp_path_factory.mktemp("auth"))
    put(st, synthetic("BTC", "1h", "2026-10-01", "2026-10-02"))
    return st


@pytest.fixture(scope="module")
def client(store):
    with TestClient(create_app(store, token="s3cret", run_worker=False)) as c:
        yield c


URLS = ["/api/klines/data?symbol=BTC", "/api/klines/coverage", "/api/klines/supported-symbols",
        "/api/klines/backfill-tasks", "/api/klines/backfill/tasks", "/api/klines/gaps/BTC",
        "/api/klines/ai-analysis/history", "/openapi.json", "/api/klines/nothing"]


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("header", [None, "Bearer wrong", "s3cret", "Basic s3cret",
                                    "Bearer s3cret2", "Bearer "])
def test_requests_without_the_token_get_401(client, url, header):
    r = client.get(url, headers={"Authorization": header} if header else {})
    assert r.status_code == 401
    body = r.json()
    assert body["error"] == "unauthorized" and "Bearer" in body["message"]
    assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("url", [u for u in URLS if "nothing" not in u])
def test_requests_with_the_token_pass(client, url):
    r = client.get(url, headers={"Authorization": "Bearer s3cret"})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("body", [{"type": "meta"}, {"type": "candleSnapshot", "req": {
    "coin": "BTC", "interval": "1h", "startTime": 0, "endTime": 2**50}}])
def test_info_needs_the_token_too(client, body):
    assert client.post("/info", json=body).status_code == 401
    assert client.post("/", json=body).status_code == 401
    ok = client.post("/info", json=body, headers={"Authorization": "bearer s3cret"})
    assert ok.status_code == 200


def test_delete_and_post_need_the_token(client):
    assert client.delete("/api/klines/backfill-tasks/bf-00000000").status_code == 401
    assert client.post("/api/klines/backfill", json={"symbol": "BTC", "interval": "1h"}
                       ).status_code == 401


def test_token_compare():
    assert token_ok(b"Bearer abc", "abc") and token_ok("bearer  abc", "abc")
    assert not token_ok(b"Bearer abcd", "abc") and not token_ok(None, "abc")
    assert not token_ok(b"Token abc", "abc")


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.org"])
def test_refuses_a_non_loopback_address_without_a_token(host):
    assert not is_loopback(host)
    with pytest.raises(BindError, match="--token"):
        check_bind(host, None)
    with pytest.raises(BindError):
        serve(Store("unused"), host=host, port=0, background=True)
    check_bind(host, "tok")  # with a token: fine
    with pytest.warns(RuntimeWarning, match="WITHOUT a token"):
        check_bind(host, None, insecure=True)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.5", "::1", "localhost"])
def test_loopback_needs_no_token(host):
    assert is_loopback(host)
    check_bind(host, None)


def test_cli_refuses_without_a_token(tmp_path, monkeypatch):
    monkeypatch.delenv("CANDLEKIT_TOKEN", raising=False)
    r = subprocess.run([sys.executable, "-m", "candlekit.cli", "serve", "--host", "0.0.0.0",
                        "--data", str(tmp_path)], capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 2 and "without a token" in r.stderr and "--insecure" in r.stderr
    assert r.stdout == ""


def test_insecure_server_serves_and_warns(store):
    with pytest.warns(RuntimeWarning, match="WITHOUT a token"):
        srv = serve(store, host="0.0.0.0", port=0, insecure=True, background=True,
                    run_worker=False)
    with srv:
        import requests

        r = requests.get(f"http://127.0.0.1:{srv.port}/api/klines/supported-symbols",
                         timeout=10)
        assert r.json() == {"symbols": ["BTC"]}


def test_request_bodies_are_size_limited(store):
    with TestClient(create_app(store, run_worker=False, max_body=1000)) as c:
        big = b'{"type": "meta", "pad": "' + b"x" * 2000 + b'"}'
        r = c.post("/info", content=big, headers={"content-type": "application/json"})
        assert r.status_code == 413 and r.json()["error"] == "body_too_large"
        assert r.json()["msg"].startswith("Request body too large")

        def chunks():  # no Content-Length: counted as it arrives
            for _ in range(5):
                yield b" " * 400

        r = c.post("/info", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413
        assert c.post("/info", json={"type": "meta"}).status_code == 200


def test_cors_is_off_unless_configured(store):
    pre = {"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"}
    with TestClient(create_app(store, run_worker=False)) as c:
        r = c.get("/api/klines/supported-symbols", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in r.headers
        assert "access-control-allow-origin" not in c.options(
            "/api/klines/coverage", headers=pre).headers
    with TestClient(create_app(store, run_worker=False,
                               cors_origins=["http://lab.example"])) as c:
        r = c.get("/api/klines/supported-symbols", headers={"Origin": "http://lab.example"})
        assert r.headers["access-control-allow-origin"] == "http://lab.example"
        r = c.get("/api/klines/supported-symbols", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in r.headers


def test_docs_are_off_and_openapi_is_served(store):
    with TestClient(create_app(store, run_worker=False)) as c:
        assert c.get("/docs").status_code == 404 and c.get("/redoc").status_code == 404
        doc = c.get("/openapi.json").json()
    paths = doc["paths"]
    for p in ("/api/klines/data", "/api/klines/coverage", "/api/klines/supported-symbols",
              "/api/klines/backfill", "/api/klines/backfill/status/{task_id}",
              "/api/klines/backfill-tasks", "/api/klines/backfill/tasks",
              "/api/klines/backfill-tasks/{task_id}", "/api/klines/gaps/{symbol}",
              "/api/klines/ai-analysis", "/api/klines/ai-analysis/history",
              "/api/klines/ai-analysis/{analysis_id}", "/info", "/"):
        assert p in paths, p
    for p, ops in paths.items():
        for method, op in ops.items():
            codes = set(op["responses"])
            assert {"401", "413", "422"} <= codes, (p, method, codes)
            assert any(c.startswith("2") for c in codes)
    assert "HTTPValidationError" not in str(doc)

"""``candlekit serve`` options: what reaches the server, and bad combinations."""

from __future__ import annotations

import pytest

import candlekit.server.app as app_module
from candlekit.cli import main
from candlekit.server import Follow
from candlekit.timeutil import to_ms


@pytest.fixture
def captured(monkeypatch):
    calls = []
    monkeypatch.setattr(app_module, "serve", lambda *a, **kw: calls.append((a, kw)))
    monkeypatch.delenv("CANDLEKIT_TOKEN", raising=False)
    return calls


def test_follow_and_options_reach_the_server(captured, tmp_path, capsys):
    assert main(["serve", "--data", str(tmp_path), "--port", "8123", "--follow", "BTC,ETH",
                 "--follow", "xyz:NVDA", "--intervals", "1m,1h", "--since", "2026-01-01",
                 "--every", "30", "--dialect", "hyperliquid", "--serve-source",
                 "hyperliquid", "--source", "emulator", "--base-url", "http://127.0.0.1:1",
                 "--cors-origin", "http://lab.example", "--max-body", "1000"]) == 0
    (args, kw), = captured
    assert str(args[0].root) == str(tmp_path)
    assert kw["follow"] == Follow(("BTC", "ETH", "xyz:NVDA"), ("1m", "1h"),
                                  to_ms("2026-01-01"), 30.0)
    assert (kw["port"], kw["host"], kw["token"], kw["dialect"]) == (8123, "127.0.0.1", None,
                                                                   "hyperliquid")
    assert kw["sources"] == ["hyperliquid"] and kw["upstream"] == "emulator"
    assert kw["cors_origins"] == ["http://lab.example"] and kw["max_body"] == 1000
    assert "following BTC,ETH,xyz:NVDA 1m,1h" in capsys.readouterr().out


def test_token_from_the_environment(captured, tmp_path, monkeypatch):
    monkeypatch.setenv("CANDLEKIT_TOKEN", "envtok")
    assert main(["serve", "--data", str(tmp_path), "--host", "0.0.0.0"]) == 0
    assert captured[0][1]["token"] == "envtok"


@pytest.mark.parametrize("argv, message", [
    (["--intervals", "1m"], "--follow"),
    (["--follow", "BTC"], "Invalid interval"),
    (["--follow", "BTC", "--intervals", "2m"], "Invalid interval"),
    (["--host", "10.0.0.1"], "without a token"),
])
def test_bad_combinations_exit_2(captured, tmp_path, capsys, argv, message):
    assert main(["serve", "--data", str(tmp_path), *argv]) == 2
    assert message in capsys.readouterr().err and not captured

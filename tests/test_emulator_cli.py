"""``candlekit emulator`` / ``python -m candlekit.emulator``: serve, answer, stop."""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests

from candlekit.emulator import EmulatorConfigError, add_parser
from candlekit.emulator.cli import cmd_emulator, main

URL = re.compile(r"http://127\.0\.0\.1:(\d+)")


def parse(argv):
    parser = argparse.ArgumentParser(prog="candlekit")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_parser_options():
    args = parse(["emulator", "--port", "0", "--mode", "hydromancer", "--budget", "none",
                  "--fault", "empty=0.5", "--fault", "dropped=0.1", "--now", "2026-01-01"])
    assert args.func is cmd_emulator and args.port == 0 and args.mode == "hydromancer"
    assert args.budget is None and args.fault == ["empty=0.5", "dropped=0.1"]
    assert parse(["emulator"]).port == 8731 and parse(["emulator"]).budget == 1200
    with pytest.raises(SystemExit):
        parse(["emulator", "--budget", "lots"])


def test_handler_serves_until_stopped(capsys):
    args = parse(["emulator", "--port", "0", "--now", "2026-11-01T00:30Z", "--budget", "none",
                  "--fault", "empty=1"])
    stop = threading.Event()
    result = {}
    thread = threading.Thread(target=lambda: result.update(code=cmd_emulator(args, stop=stop)))
    thread.start()
    try:
        out = ""
        for _ in range(200):  # wait for the banner, up to about 10 s
            out += capsys.readouterr().out
            if URL.search(out):
                break
            time.sleep(0.05)
        url = URL.search(out).group(0)
        assert "SYNTHETIC" in out and "hyperliquid" in out
        r = requests.post(url + "/info", timeout=10, json={"type": "candleSnapshot", "req": {
            "coin": "BTC", "interval": "1h", "startTime": 0}})
        assert r.status_code == 200 and r.json() == []  # the empty fault, from --fault
        assert r.headers["Date"] == "Sun, 01 Nov 2026 00:30:00 GMT"
    finally:
        stop.set()
        thread.join(timeout=10)
    assert result == {"code": 0}
    assert "stopped" in capsys.readouterr().out


def test_bad_options_raise_or_exit_2(capsys):
    with pytest.raises(EmulatorConfigError, match="name=rate"):
        cmd_emulator(parse(["emulator", "--port", "0", "--fault", "explode=1"]))
    assert main(["--port", "0", "--fault", "empty=2"]) == 2
    assert "between 0 and 1" in capsys.readouterr().err


def test_python_dash_m_until_ctrl_c():
    proc = subprocess.Popen([sys.executable, "-m", "candlekit.emulator", "--port", "0",
                             "--mode", "hydromancer", "--now", "2026-11-01T00:30Z"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        url = URL.search(line).group(0)
        r = requests.post(url + "/info", json={"type": "meta"}, timeout=10)
        assert r.status_code == 200 and r.headers["X-Candlekit-Emulator"] == "hydromancer"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "stopped" in out

"""JupyterLab in headless Chromium: run explorer.ipynb, change the symbol, see the chart change.

Needs Debian's Chromium (``apt-get install chromium``; ``.ci/run`` installs it when it can)
and the ``playwright`` Python package (test extras), which drives that browser: Playwright's
own browser download needs the internet, so it is never used. Skips, saying why, when either
is missing. The screenshot is saved under the test's temporary directory (its path is
printed, and kept in ``reports/browser/`` when that directory can be written).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from candlekit.store import Store
from candlekit.synthetic import synthetic_candles

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "explorer.ipynb"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TOKEN = "candlekit-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run "
                    "installs it where it can)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed "
                        "(pip install -e '.[test]')")
    store = Store(tmp_path / "store")
    for symbol in ("BTC", "ETH"):
        store.write(synthetic_candles(symbol, "1h", "2026-09-01", "2026-10-01", seed=3))
    root = tmp_path / "lab"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / "explorer.ipynb")
    port = _free_port()
    env = {**os.environ, "CANDLEKIT_DATA": str(store.root), "JUPYTER_CONFIG_DIR":
           str(tmp_path / "jupyter-config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    log = open(tmp_path / "lab.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
         f"--port={port}", f"--ServerApp.token={TOKEN}", "--ServerApp.password=",
         "--allow-root", f"--ServerApp.root_dir={root}", "--LabApp.news_url=",
         "--ServerApp.disable_check_xsrf=True"],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail("JupyterLab did not start:\n"
                                + (tmp_path / "lab.log").read_text()[-3000:])
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_explorer_symbol_change_redraws_the_chart(lab, tmp_path):
    from playwright.sync_api import sync_playwright

    shot = tmp_path / "explorer-eth.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{lab}/lab/tree/explorer.ipynb?token={TOKEN}")
            page.wait_for_selector(".jp-Notebook", timeout=90_000)
            page.wait_for_function(  # the kernel is up: the status bar says Idle
                "() => (document.querySelector('.jp-StatusBar-Widget, #jp-main-statusbar')"
                " || document.body).innerText.includes('Idle')", timeout=120_000)
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            chart = page.locator(".candlekit-chart img").first
            try:
                chart.wait_for(timeout=120_000)
            except Exception:
                page.screenshot(path=str(tmp_path / "failed.png"), full_page=True)
                print(f"failure screenshot: {tmp_path / 'failed.png'}")
                raise
            before = chart.get_attribute("src")
            status = page.locator(".candlekit-status").first
            assert "BTC" in status.inner_text()
            page.locator(".candlekit-symbol select").first.select_option("ETH")
            page.wait_for_function(
                "before => { const img = document.querySelector('.candlekit-chart img');"
                " return img && img.getAttribute('src') !== before; }",
                arg=before, timeout=60_000)
            page.wait_for_function(
                "() => document.querySelector('.candlekit-status').innerText.includes('ETH')",
                timeout=30_000)
            after = page.locator(".candlekit-chart img").first.get_attribute("src")
            page.locator(".candlekit-chart img").first.scroll_into_view_if_needed()
            page.screenshot(path=str(shot))
        finally:
            browser.close()
    assert after != before and after.startswith("data:image/png")
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")
    keep = Path(__file__).resolve().parents[1] / "reports" / "browser"
    try:
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, keep / shot.name)
    except OSError:
        pass

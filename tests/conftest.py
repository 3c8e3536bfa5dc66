"""Shared fixtures: the real Hyperliquid candles in ../shared/data (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FREQTRADE_DIR = SHARED_DATA / "hyperliquid-freqtrade"


@pytest.fixture(scope="session")
def freqtrade_dir() -> Path:
    """Directory of real Hyperliquid freqtrade files; skips the test when it is absent."""
    if not FREQTRADE_DIR.is_dir():
        pytest.skip(f"real Hyperliquid candles not found at {FREQTRADE_DIR} (../shared absent)")
    return FREQTRADE_DIR


@pytest.fixture(autouse=True)
def _isolated_store_root(tmp_path, monkeypatch):
    """No test writes into the repository's data/: the default store root is a temp dir."""
    monkeypatch.setenv("CANDLEKIT_DATA", str(tmp_path / "candlekit-data"))
    # registries of object stores default to $CANDLEKIT_HOME/stores/...: keep them in tmp too
    monkeypatch.setenv("CANDLEKIT_HOME", str(tmp_path / "candlekit-home"))
    monkeypatch.delenv("CANDLEKIT_STORAGE_OPTIONS", raising=False)
    monkeypatch.delenv("CANDLEKIT_REGISTRY_DIR", raising=False)


@pytest.fixture(scope="session")
def dask_client():
    """One 2-worker ``LocalCluster`` (processes, one thread each) for every cluster test of
    the session, with a client; skips the test without the ``dask`` extra."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address="127.0.0.1:0") as cluster, \
            distributed.Client(cluster) as c:
        yield c

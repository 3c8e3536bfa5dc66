"""The backfill notebook under papermill, with non-default parameters: what it stored and
what its tables say."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pandas as pd
import papermill as pm

from candlekit.emulator import Emulator
from candlekit.store import Store

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "backfill.ipynb"


def _outputs(nb) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            data = out.get("data", {})
            parts.append(data.get("text/html", "") or data.get("text/plain", ""))
    return "\n".join(p if isinstance(p, str) else "".join(p) for p in parts)


def test_backfill_notebook_with_other_parameters_stores_the_truth(tmp_path):
    now = "2026-06-01T00:00Z"
    with Emulator("hyperliquid", seed=7, now=now, budget=None) as emu:
        params = {"symbols": ["SOL", "xyz:TSLA"], "intervals": ["4h", "1m"],
                  "start": "2026-05-25", "end": "2026-05-31", "source": "emulator",
                  "base_url": emu.url, "data_dir": str(tmp_path / "store")}
        pm.execute_notebook(str(NOTEBOOK), str(tmp_path / "out.ipynb"), parameters=params,
                            kernel_name="python3", progress_bar=False, cwd=str(tmp_path))
        store = Store(tmp_path / "store")
        for symbol in params["symbols"]:
            four_h = store.read(symbol, "4h", source="emulator")
            truth = emu.truth(symbol, "4h", "2026-05-25", "2026-05-31")
            pd.testing.assert_frame_equal(four_h, truth, check_like=True)
            minutes = store.read(symbol, "1m", source="emulator")
            assert minutes.index[0] == pd.Timestamp(emu.earliest(symbol, "1m"), unit="ms",
                                                    tz="UTC")
            assert minutes.index[-1] == pd.Timestamp("2026-05-30T23:59", tz="UTC")
    text = _outputs(nbformat.read(tmp_path / "out.ipynb", as_version=4))
    assert "SYNTHETIC DATA" in text
    assert "xyz:TSLA" in text and "completed" in text
    assert "not available upstream" in text  # 1m history before the 5000-candle window
    earliest = pd.Timestamp(emu.earliest("SOL", "1m"), unit="ms", tz="UTC")
    assert str(earliest)[:16] in text  # where history ends, in the upstream table

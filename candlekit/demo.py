"""The offline end-to-end run behind ``make demo``.

1. start the candlekit emulator (Hyperliquid's API on a seeded SYNTHETIC market) on
   127.0.0.1 with its clock frozen at ``now``;
2. backfill BTC, ETH, SOL and the HIP-3 coin ``xyz:NVDA`` at 1m, 1h and 1d from ``start``
   (1m history before the upstream's 5000-candle window is reported, not invented);
3. advance the emulator's clock by ``advance`` and backfill again, so the store ends up
   holding more 1m history than the upstream serves at any one time;
4. render the backfill and coverage reports to HTML with papermill and nbconvert.
5. render the analysis report (BTC 4h, resampled from the stored 1h) the same way.

Nothing touches the network beyond 127.0.0.1. Everything stored is labelled source
``"emulator"`` and every report says SYNTHETIC DATA. Running it again stores nothing twice:
the backfill plans from the store and the store upserts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .backfill import Task, backfill
from .backfill.summary import summarize_task
from .coverage import gap_table
from .store import Store
from .timeutil import TimeLike, to_timestamp

__all__ = ["DEMO_INTERVALS", "DEMO_NOW", "DEMO_SYMBOLS", "DemoResult", "run_demo"]

DEMO_SYMBOLS = ("BTC", "ETH", "SOL", "xyz:NVDA")
DEMO_INTERVALS = ("1m", "1h", "1d")
DEMO_NOW = "2026-11-01T00:00Z"
DEMO_START = "2026-10-01"
REPORTS = ("backfill", "coverage_report")


@dataclass
class DemoResult:
    """What the demo stored, learned and rendered."""

    store: Store
    tasks: list[Task]
    coverage: pd.DataFrame
    upstream: pd.DataFrame
    gaps: pd.DataFrame
    clock: tuple[pd.Timestamp, pd.Timestamp]
    reports: dict[str, Path] = field(default_factory=dict)


def run_demo(store: Store | None = None, *, symbols: tuple[str, ...] = DEMO_SYMBOLS,
             intervals: tuple[str, ...] = DEMO_INTERVALS, start: TimeLike = DEMO_START,
             now: TimeLike = DEMO_NOW, advance: str = "2d", seed: int = 7,
             reports_dir: str | Path | None = "reports", progress: bool = True) -> DemoResult:
    """Run the emulator -> backfill -> advance -> backfill -> reports demo.

    Parameters
    ----------
    store : Store, optional
        Where to write (default ``Store()``: ``$CANDLEKIT_DATA`` or ``./data``).
    symbols, intervals : tuple of str
        Series to backfill (every combination).
    start : time
        First candle asked for.
    now : time
        The emulator's frozen clock for the first backfill.
    advance : str
        How far the clock moves before the second backfill (a pandas offset like ``"2d"``).
    seed : int
        Seed of the synthetic market.
    reports_dir : path or None
        Where the HTML reports go; ``None`` skips rendering.
    progress : bool
        Show tqdm progress bars.

    Returns
    -------
    DemoResult
    """
    from .emulator import Emulator
    from .sources import Hyperliquid

    store = store if store is not None else Store()
    first = to_timestamp(now)
    tasks = []
    with Emulator("hyperliquid", seed=seed, now=first, budget=None) as emu:
        source = Hyperliquid(emu.url, weight_budget=10**9)  # the emulator enforces no budget
        tasks.append(backfill(list(symbols), list(intervals), start=start, source=source,
                              store=store, progress=progress))
        emu.advance(advance)
        second = to_timestamp(emu.now_ms)
        tasks.append(backfill(list(symbols), list(intervals), start=start, source=source,
                              store=store, progress=progress))
        rendered: dict[str, Path] = {}
        if reports_dir is not None:
            rendered = _render(store, emu.url, symbols, intervals, start, reports_dir,
                               progress=progress)
            rendered.update(_render_analysis(store, symbols, intervals, reports_dir,
                                             progress=progress))
    summary = summarize_task(tasks[-1], store=store)
    gaps = gap_table(store, symbols=list(symbols), intervals=list(intervals),
                     sources=[summary.status.source], window=(start, second))
    return DemoResult(store=store, tasks=tasks, coverage=summary.stored,
                      upstream=summary.upstream, gaps=gaps, clock=(first, second),
                      reports=rendered)


def _render(store: Store, url: str, symbols: tuple[str, ...], intervals: tuple[str, ...],
            start: TimeLike, reports_dir: str | Path, *, progress: bool) -> dict[str, Path]:
    from .report import render_report

    out: dict[str, Path] = {}
    params = {
        "backfill": {"symbols": list(symbols), "intervals": list(intervals),
                     "start": str(to_timestamp(start).date()), "source": "emulator",
                     "base_url": url, "data_dir": str(store.root)},
        "coverage_report": {"data_dir": str(store.root), "window": "7d"},
    }
    for name in REPORTS:
        result = render_report(name, parameters=params[name], output_dir=reports_dir,
                               progress=progress)
        out[name] = result.html
    return out


#: The demo's analysis report: BTC 4h, resampled from the stored 1h candles.
DEMO_ANALYSIS = ("BTC", "4h")


def _render_analysis(store: Store, symbols: tuple[str, ...], intervals: tuple[str, ...],
                     reports_dir: str | Path, *, progress: bool) -> dict[str, Path]:
    """``reports/analysis.html``: the analysis notebook on the demo's (synthetic) store."""
    from .report import render_report

    symbol, interval = DEMO_ANALYSIS
    if symbol not in symbols or "1h" not in intervals:
        return {}
    result = render_report("analysis", parameters={"symbol": symbol, "interval": interval,
                                                   "data_dir": str(store.root)},
                           output_dir=reports_dir, progress=progress)
    return {"analysis": result.html}

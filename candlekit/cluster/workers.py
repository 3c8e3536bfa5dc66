"""Workers: candlekit's numba kernels compiled once per worker process, before any unit.

The resampler's and gap finder's kernels are module-level ``numba.njit(cache=True)``
functions, so a worker compiles each once (or loads it from numba's on-disk cache) and
every later unit reuses it. :func:`warm_up` registers a worker plugin that runs a tiny
resample and gap scan on every worker (and on workers that join later), so the first
units are not slowed down by compilation; the store-wide functions call it themselves.
Set ``NUMBA_CACHE_DIR`` in the workers' environment (a local, writable directory per
machine) so that new worker processes load compiled kernels instead of compiling again.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

__all__ = ["PLUGIN_NAME", "warm_kernels", "warm_up"]

PLUGIN_NAME = "candlekit-numba-warm-up"


def warm_kernels() -> float:
    """Compile (or load from cache) every kernel a unit uses; returns the seconds spent."""
    from ..frame import make_frame
    from ..gaps import find_gaps
    from ..resample import resample

    started = time.perf_counter()
    t = np.delete(np.arange(6, dtype=np.int64) * 60_000 + 1_767_225_600_000, 3)  # a gap
    price = np.linspace(100.0, 101.0, len(t))
    df = make_frame(t, price, price + 1, price - 1, price, np.ones(len(t)),
                    quote_volume=np.ones(len(t)), trades=np.ones(len(t), np.int64),
                    symbol="WARMUP", interval="1m", source="warm-up")
    resample(df, "5m")
    find_gaps(df, start=int(t[0]), end=int(t[-1]) + 120_000)
    return time.perf_counter() - started


def warm_up(client: Any) -> dict[str, float]:
    """Compile candlekit's numba kernels on every worker of ``client``, once.

    Registers a worker plugin (so workers that join later warm up too; registering again
    is a no-op), then times one more warm call on every worker with ``client.run``:
    milliseconds once the kernels are compiled.

    Parameters
    ----------
    client : distributed.Client

    Returns
    -------
    dict
        Worker address to seconds the timed warm call took.
    """
    from .progress import check_client

    check_client(client)
    from ._plugin import WarmUpPlugin

    client.register_plugin(WarmUpPlugin(), name=PLUGIN_NAME)
    return client.run(warm_kernels)

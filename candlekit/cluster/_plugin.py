"""The worker plugin that warms numba kernels up (imports ``distributed``; loaded lazily)."""

from __future__ import annotations

from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from .workers import warm_kernels

__all__ = ["WarmUpPlugin"]


class WarmUpPlugin(WorkerPlugin):
    """Runs :func:`~candlekit.cluster.workers.warm_kernels` when a worker starts."""

    idempotent = True

    def setup(self, worker: Any) -> None:
        warm_kernels()

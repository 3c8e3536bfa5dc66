"""The worker plugins that warm numba kernels up (need ``distributed``; imported lazily)."""

from __future__ import annotations

from typing import Any

try:
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError:  # pragma: no cover - without the dask extra there is nothing to plug into
    WorkerPlugin = object  # type: ignore[assignment, misc]

from .workers import warm_kernels

__all__ = ["AnalysisWarmUpPlugin", "WarmUpPlugin"]


class WarmUpPlugin(WorkerPlugin):
    """Runs :func:`~candlekit.cluster.workers.warm_kernels` when a worker starts."""

    idempotent = True

    def setup(self, worker: Any) -> None:
        warm_kernels()


class AnalysisWarmUpPlugin(WorkerPlugin):
    """Runs :func:`~candlekit.cluster.track.warm_analysis_kernels` when a worker starts
    (the track records' kernels: indicators, levels and the call)."""

    idempotent = True

    def setup(self, worker: Any) -> None:
        from .track import warm_analysis_kernels

        warm_analysis_kernels()

"""Running units: in process or on a ``distributed`` client, with a bar over completed units.

:func:`run_units` calls one function per unit and yields ``(index, result)`` as units
complete. Without a client it is a plain loop; with a :class:`distributed.Client` the
units are submitted with ``client.map`` (one task per unit, named after it) and collected
with :func:`distributed.as_completed`, so the caller can finish a series as soon as its
last unit is in while others still run. Either way a ``tqdm.auto`` bar counts completed
units, and the Dask dashboard link is printed when the scheduler serves one. A failed
unit cancels the rest and raises its error.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..errors import FormatError, MissingDependencyError

__all__ = ["check_client", "dashboard_link", "run_units"]


def check_client(client: Any, store: Any = None) -> Any:
    """The client, after checking it is a :class:`distributed.Client` (None passes) and,
    given the ``store`` its workers will read, that they can reach it."""
    if client is None:
        return None
    if store is not None and str(getattr(store, "url", "")).startswith("memory://"):
        raise FormatError(
            f"The store {store.url} lives in this process's memory, which Dask workers (other "
            "processes) cannot see. Pass client=None to run here, or put the store in a "
            "directory or bucket every worker can read.", store)
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError("distributed", "dask",
                                     "Running on a Dask cluster (client=)") from exc
    if not isinstance(client, distributed.Client):
        raise FormatError(
            f"client must be a distributed.Client, got {type(client).__name__}: connect "
            "with distributed.Client(scheduler_address) or Client(LocalCluster()), or pass "
            "client=None to run in this process.", client)
    if client.status not in ("running", "connecting"):
        raise FormatError(f"The Dask client is {client.status}: connect it again, or pass "
                          "client=None to run in this process.", client)
    return client


def dashboard_link(client: Any) -> str | None:
    """The dashboard URL when the scheduler serves one (it needs ``bokeh``), else None."""
    try:
        services = client.scheduler_info().get("services", {})
    except Exception:  # noqa: BLE001 - a link is a nicety, never a failure
        return None
    return client.dashboard_link if "dashboard" in services else None


def run_units(fn: Callable[..., Any], units: Sequence[Any], *, client: Any = None,
              desc: str, progress: bool = True, kwargs: dict[str, Any] | None = None,
              unit_name: str = "file") -> Iterator[tuple[int, Any]]:
    """Call ``fn(unit, **kwargs)`` for every unit; yield ``(index, result)`` as they finish.

    Parameters
    ----------
    fn : callable
        A module-level function (workers import it by name).
    units : sequence
        Its first arguments.
    client : distributed.Client, optional
        Run on this cluster; ``None`` runs in this process, in order.
    desc : str
        Label of the progress bar and prefix of the task names.
    progress : bool, default True
        Show a ``tqdm.auto`` bar over completed units.
    kwargs : dict, optional
        Keyword arguments for every call (sent once per task; keep them small).
    unit_name : str, default "file"
        What the bar counts (``"series"`` where a unit is a whole series).

    Yields
    ------
    (int, object)
        The unit's index in ``units`` and what ``fn`` returned.
    """
    from tqdm.auto import tqdm

    kwargs = kwargs or {}
    bar = tqdm(total=len(units), desc=desc, unit=unit_name, disable=not progress)
    try:
        if client is None:
            for i, unit in enumerate(units):
                result = fn(unit, **kwargs)
                bar.update(1)
                yield i, result
            return
        from distributed import as_completed

        link = dashboard_link(client)
        if link and progress:
            tqdm.write(f"{desc}: {len(units)} units on {client}; dashboard: {link}")
        token = uuid.uuid4().hex[:8]
        keys = [f"candlekit-{desc.split()[0]}-{token}-{i}" for i in range(len(units))]
        futures = client.map(fn, list(units), key=keys, **kwargs)
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for future, result in as_completed(futures, with_results=True):
                bar.update(1)
                i = index[future.key]
                future.release()
                yield i, result
        except BaseException:
            client.cancel(futures)
            raise
    finally:
        bar.close()

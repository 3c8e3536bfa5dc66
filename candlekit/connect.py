"""One call from a source name to a ready client, starting the local emulator if asked.

Notebooks and the demo say ``source="emulator"`` and get a client of a candlekit emulator
running in this process (started on first use, on 127.0.0.1, kept for the life of the
process); any other name goes through the source registry with its real default URL.
"""

from __future__ import annotations

import threading
from typing import Any

from .sources import Source, get_source
from .timeutil import TimeLike

__all__ = ["connect", "local_emulator"]

_LOCK = threading.Lock()
_EMULATORS: dict[tuple[str, int, Any], Any] = {}
_UNLIMITED = 10**9  # the in-process emulator enforces no budget, so neither does its client


def local_emulator(*, mode: str = "hyperliquid", seed: int = 7, now: TimeLike | None = None
                   ) -> Any:
    """The in-process :class:`candlekit.emulator.Emulator` for these settings (started once).

    Parameters
    ----------
    mode : {"hyperliquid", "hydromancer"}
    seed : int
        Seed of the synthetic market.
    now : time, optional
        Frozen market clock; ``None`` follows the real clock.

    Returns
    -------
    candlekit.emulator.Emulator
        Running on 127.0.0.1 with no weight budget; ``.url`` is its base URL.
    """
    from .emulator import Emulator

    key = (mode, seed, None if now is None else str(now))
    with _LOCK:
        emu = _EMULATORS.get(key)
        if emu is None:
            emu = Emulator(mode, seed=seed, now=now, budget=None)
            _EMULATORS[key] = emu
        return emu


def connect(source: str | Source = "hyperliquid", *, base_url: str | None = None,
            emulator_now: TimeLike | None = None, seed: int = 7, **kwargs: Any) -> Source:
    """A source client by name.

    Parameters
    ----------
    source : str or Source
        ``"hyperliquid"`` (real API), ``"hydromancer"`` (real API, needs
        ``HYDROMANCER_API_KEY``), ``"emulator"`` or ``"emulator-hydromancer"``, or a
        :class:`~candlekit.sources.Source` (returned as is).
    base_url : str, optional
        Where the API is. For the emulator names, ``None`` starts (or reuses) an emulator in
        this process; a URL connects to one already running (``candlekit emulator``).
    emulator_now : time, optional
        Market clock of an in-process emulator (frozen); ``None`` follows the real clock.
    seed : int, default 7
        Market seed of an in-process emulator.
    **kwargs
        Passed to the client (``timeout``, ``max_retries``, ...).

    Returns
    -------
    Source

    Examples
    --------
    >>> src = connect("emulator", emulator_now="2026-11-01T00:00Z")
    >>> src.candles("BTC", "1d", "2026-10-01", "2026-10-08", progress=False)["closed"].all()
    np.True_
    """
    if isinstance(source, Source):
        return source
    if source in ("emulator", "emulator-hydromancer") and base_url is None:
        mode = "hydromancer" if source == "emulator-hydromancer" else "hyperliquid"
        emu = local_emulator(mode=mode, seed=seed, now=emulator_now)
        kwargs.setdefault("weight_budget", _UNLIMITED)
        if mode == "hydromancer":
            kwargs.setdefault("api_key", "local-emulator")
        return get_source(source, base_url=emu.url, **kwargs)
    return get_source(source, base_url=base_url, **kwargs)

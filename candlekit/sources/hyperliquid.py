"""Hyperliquid's public info API: ``POST https://api.hyperliquid.xyz/info``.

* ``candleSnapshot``: at most 5000 candles per request, ``endTime`` inclusive (so a
  half-open ``[start, end)`` sends ``end - 1``), only the most recent 5000 candles of each
  coin and interval are kept, no ``1s`` interval; 3d/1w/1M buckets are epoch-aligned
  (``alignment="hyperliquid"``).
* Weight: 20 per request plus one per 60 candles returned; 1200 per minute per IP.
* The candle holding the server's clock is open: its ``T`` is in the future.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..intervals import INTERVALS, Interval
from .info import InfoSource
from .ratelimit import BASE_WEIGHT, CANDLES_PER_WEIGHT, candle_weight
from .registry import EMULATOR_URL, register_source

__all__ = ["HYPERLIQUID_INTERVALS", "Hyperliquid"]

HYPERLIQUID_INTERVALS: tuple[str, ...] = tuple(i for i in INTERVALS if i != "1s")


@register_source("hyperliquid")
class Hyperliquid(InfoSource):
    """Candles and coin listings from Hyperliquid (or the candlekit emulator).

    Parameters
    ----------
    base_url : str, optional
        Default ``https://api.hyperliquid.xyz``.
    timeout, max_retries, backoff_factor, backoff_max, weight_budget, weight_window,
    confirm_empty, fill_budget, session
        See :class:`~candlekit.sources.info.InfoSource`.

    Notes
    -----
    Typical use (network needed)::

        hl = Hyperliquid()
        df = hl.candles("BTC", "1h", "2026-01-01", "2026-02-01")
        spot = hl.symbols().query("kind == 'spot'")
    """

    name: ClassVar[str] = "hyperliquid"
    intervals: ClassVar[tuple[str, ...]] = HYPERLIQUID_INTERVALS
    alignment: ClassVar[str] = "hyperliquid"
    default_url: ClassVar[str] = "https://api.hyperliquid.xyz"

    def _candle_payload(self, coin: str, iv: Interval, start_ms: int, end_ms: int
                        ) -> dict[str, Any]:
        return {"type": "candleSnapshot",
                "req": {"coin": coin, "interval": iv.name, "startTime": start_ms,
                        "endTime": end_ms - 1}}

    def _candle_weight(self, n: int) -> int:
        return candle_weight(n)

    def _candles_for_weight(self, weight: int) -> int:
        return max(0, (weight - BASE_WEIGHT) * CANDLES_PER_WEIGHT)

    def _interval_hint(self, name: str) -> str:
        if name == "1s":
            return ("Hyperliquid has no '1s' candles; they are Hydromancer-only: use "
                    "candlekit.Hydromancer(api_key=...) (source 'hydromancer').")
        return ""


@register_source("emulator")
def emulator(base_url: str | None = None, **kwargs: Any) -> Hyperliquid:
    """A :class:`Hyperliquid` client for the candlekit emulator (default ``127.0.0.1:8731``).

    Parameters
    ----------
    base_url : str, optional
        The emulator's URL (``Emulator.url``).
    **kwargs
        As :class:`Hyperliquid`.

    Returns
    -------
    Hyperliquid
    """
    return Hyperliquid(base_url if base_url is not None else EMULATOR_URL, **kwargs)

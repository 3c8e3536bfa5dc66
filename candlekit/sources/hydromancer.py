"""Hydromancer's candle API: Hyperliquid's request shape with a key, ``1s`` and more fields.

``POST {base}/info`` ``candleSnapshot`` with ``Authorization: Bearer <key>``; it adds the
``1s`` interval, takes a ``limit``, treats ``endTime`` as exclusive, returns ``q`` (quote
volume, ``null`` when unknown) and ``x`` (closed) in every record, and buckets weeks from
Monday and months by the calendar (``alignment="calendar"``). Errors come as
``{"error": "..."}`` and reach the user verbatim. Each request costs 20 points.

The candlekit emulator charges Hyperliquid's weights in both of its modes (20 plus one per
60 candles); once a response says it comes from the emulator, the client charges those.
Until the first response says which it is, reservations assume the emulator's (higher)
weights, so neither upstream is ever overrun.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import requests

from ..intervals import INTERVALS, Interval
from .base import SourceConfigError
from .info import InfoSource
from .ratelimit import BASE_WEIGHT, CANDLES_PER_WEIGHT, candle_weight
from .registry import EMULATOR_URL, register_source

__all__ = ["Hydromancer"]

API_KEY_ENV = "HYDROMANCER_API_KEY"
API_URL_ENV = "HYDROMANCER_API_URL"


@register_source("hydromancer")
class Hydromancer(InfoSource):
    """Candles from Hydromancer (or the candlekit emulator in Hydromancer mode).

    Parameters
    ----------
    api_key : str, optional
        Default: the ``HYDROMANCER_API_KEY`` environment variable.
    base_url : str, optional
        Default: ``HYDROMANCER_API_URL``, else ``https://api.hydromancer.xyz``.
    timeout, max_retries, backoff_factor, backoff_max, weight_budget, weight_window,
    confirm_empty, fill_budget, session
        See :class:`~candlekit.sources.info.InfoSource`; every request weighs 20 points.

    Raises
    ------
    SourceConfigError
        When no API key is given or set in the environment, or a URL is given as the
        key (``Hydromancer("http://...")``: pass it as ``base_url=``).
    """

    name: ClassVar[str] = "hydromancer"
    intervals: ClassVar[tuple[str, ...]] = INTERVALS
    alignment: ClassVar[str] = "calendar"
    emulator_label: ClassVar[str] = "emulator-hydromancer"
    default_url: ClassVar[str] = "https://api.hydromancer.xyz"
    request_weight: ClassVar[int] = BASE_WEIGHT

    def __init__(self, api_key: str | None = None, base_url: str | None = None, *,
                 timeout: float | tuple[float, float] = 10.0, max_retries: int = 5,
                 backoff_factor: float = 0.25, backoff_max: float = 30.0,
                 weight_budget: int | None = None, weight_window: float | None = None,
                 confirm_empty: int = 3, fill_budget: bool = False,
                 session: requests.Session | None = None):
        if isinstance(api_key, str) and _looks_like_url(api_key):
            raise SourceConfigError(
                f"Hydromancer's first argument is the API key, but {api_key!r} is a URL: "
                f"pass it as base_url= (Hydromancer(base_url={api_key!r})), and the key as "
                f"api_key= or in the environment variable {API_KEY_ENV}.")
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        if not isinstance(key, str) or not key.strip():
            raise SourceConfigError(
                f"Hydromancer needs an API key: set the environment variable {API_KEY_ENV} "
                f"(export {API_KEY_ENV}=...) or pass api_key=...; keys come from "
                "hydromancer.xyz.")
        url = base_url if base_url is not None else (os.environ.get(API_URL_ENV)
                                                     or self.default_url)
        super().__init__(url, timeout=timeout, max_retries=max_retries,
                         backoff_factor=backoff_factor, backoff_max=backoff_max,
                         weight_budget=weight_budget, weight_window=weight_window,
                         confirm_empty=confirm_empty, fill_budget=fill_budget,
                         session=session)
        self._api_key = key.strip()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"}

    def _candle_payload(self, coin: str, iv: Interval, start_ms: int, end_ms: int
                        ) -> dict[str, Any]:
        return {"type": "candleSnapshot",
                "req": {"coin": coin, "interval": iv.name, "startTime": start_ms,
                        "endTime": end_ms, "limit": self.page_limit}}

    def _candle_weight(self, n: int) -> int:
        return candle_weight(n) if self.synthetic else self.request_weight

    def _upper_weight(self, n: int) -> int:
        return self.request_weight if self._emulated is False else candle_weight(n)

    def _candles_for_weight(self, weight: int) -> int:
        if self._emulated is False:
            return self.page_limit if weight >= self.request_weight else 0
        return max(0, (weight - BASE_WEIGHT) * CANDLES_PER_WEIGHT)

    def _status_hint(self, status: int) -> str:
        if status in (401, 403):
            return (f"Check the API key: set {API_KEY_ENV} (or pass api_key=) to a valid "
                    "Hydromancer key.")
        return super()._status_hint(status)


def _looks_like_url(text: str) -> bool:
    """Whether ``text`` is an http(s) URL (or a host:port), not an API key."""
    t = text.strip().lower()
    return t.startswith(("http://", "https://", "127.0.0.1", "localhost:"))


@register_source("emulator-hydromancer")
def emulator_hydromancer(api_key: str | None = None, base_url: str | None = None,
                         **kwargs: Any) -> Hydromancer:
    """A :class:`Hydromancer` client for the candlekit emulator (default ``127.0.0.1:8731``).

    Parameters
    ----------
    api_key : str, optional
        The key the emulator was started with; default ``HYDROMANCER_API_KEY``, else
        ``"candlekit-emulator"`` (an emulator started without a key accepts any).
    base_url : str, optional
        The emulator's URL (``Emulator.url``).
    **kwargs
        As :class:`Hydromancer`.

    Returns
    -------
    Hydromancer
    """
    key = api_key if api_key is not None else (os.environ.get(API_KEY_ENV)
                                               or "candlekit-emulator")
    return Hydromancer(key, base_url if base_url is not None else EMULATOR_URL, **kwargs)

"""``candlekit serve``: the store as a kline service and a self-hosted ``candleSnapshot``.

This package owns candlekit's HTTP server: the kline REST API of the seed
(``/api/klines/...``: candles, coverage, symbols, backfill tasks, gaps, AI analyses) and
Hyperliquid's ``POST /info`` in Hydromancer's dialect (or the exchange's own) over the
store's whole history, so code written for Hyperliquid or Hydromancer, the official SDK
included, works against it unchanged; bearer tokens, body limits and the bind rule; and
the worker that runs backfill tasks and ``--follow`` in the store's task registry. It
reads the store and writes candles only through :func:`candlekit.backfill`'s tasks.

Modules: :mod:`.app` (:func:`create_app`, :func:`serve`), :mod:`.series` (which stored
series answers, resampling on the fly), :mod:`.encode` (columns to JSON bytes),
:mod:`.klines` and :mod:`.info` and :mod:`.analysis` (routes), :mod:`.auth`,
:mod:`.responses` (errors and their status codes), :mod:`.schemas` (the OpenAPI models),
:mod:`.worker`, :mod:`.cli`.
"""

from .app import RunningServer, create_app, serve
from .auth import BindError, check_bind
from .worker import BackfillWorker, Follow

__all__ = ["BackfillWorker", "BindError", "Follow", "RunningServer", "check_bind",
           "create_app", "serve"]

"""The app factory :func:`create_app`, and :func:`serve` (uvicorn, foreground or a thread).

>>> app = create_app(Store("data"))                          # doctest: +SKIP
>>> with serve(Store("data"), port=0, background=True) as srv:   # doctest: +SKIP
...     Info(srv.url, skip_ws=True).candles_snapshot("BTC", "1h", 0, 2**53)
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Self

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from ..emulator.protocol import DESERIALIZE_ERROR
from ..errors import CandlekitError
from ..store import Store
from ._deps import fastapi, uvicorn  # noqa: F401 - a clear error when the extra is missing
from .auth import INFO_PATHS, BodyLimitMiddleware, TokenMiddleware, check_bind
from .info import InfoService, info_router, openapi_models
from .klines import klines_router
from .responses import error_body, error_response, json_response
from .series import CandleReader
from .worker import BackfillWorker, Follow

__all__ = ["DEFAULT_MAX_BODY", "RunningServer", "ServerState", "create_app", "serve"]

DEFAULT_MAX_BODY = 64 * 1024
TOKEN_ENV = "CANDLEKIT_TOKEN"
_log = logging.getLogger("candlekit.server")


@dataclass
class ServerState:
    """What the routes share: the store, its reader, the /info service and the worker."""

    store: Store
    reader: CandleReader
    info: InfoService
    worker: BackfillWorker
    token: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)


def create_app(store: Store | str | os.PathLike[str] | None = None, *,
               token: str | None = None, dialect: str = "hydromancer",
               sources: Sequence[str] | None = None, upstream: str = "hyperliquid",
               base_url: str | None = None, source_options: dict[str, Any] | None = None,
               follow: Follow | None = None, max_running: int = 2,
               max_body: int = DEFAULT_MAX_BODY, cors_origins: Sequence[str] = (),
               public_meta: bool = False, run_worker: bool = True) -> FastAPI:
    """The candlekit server as an ASGI app (kline REST API, ``POST /info``, backfills).

    Parameters
    ----------
    store : Store, path or None
        The store served (default ``Store()``: ``$CANDLEKIT_DATA`` or ``./data``).
    token : str, optional
        Every request then needs ``Authorization: Bearer <token>``.
    dialect : {"hydromancer", "hyperliquid"}, default "hydromancer"
        The shape of ``POST /info`` (see :mod:`candlekit.server.info`).
    sources : sequence of str, optional
        Store source labels served, in order of preference (default: every label,
        ``hydromancer`` then ``hyperliquid`` first).
    upstream : str, default "hyperliquid"
        The source backfills fetch from (:func:`candlekit.get_source` name).
    base_url : str, optional
        The upstream's URL (e.g. an emulator's ``emu.url``).
    source_options : dict, optional
        More options for the upstream client (``api_key=``, ``weight_budget=``, ...).
    follow : Follow, optional
        Series to keep current while the server runs.
    max_running : int, default 2
        Backfill tasks run at once.
    max_body : int, default 65536
        Largest request body accepted, in bytes.
    cors_origins : sequence of str, default ()
        Origins allowed by CORS; none (CORS off) by default.
    public_meta : bool, default False
        With a token: answer ``meta``/``spotMeta``/``perpDexs`` without it, so that the
        official SDK's ``Info(url)`` can be constructed before its session has the header.
    run_worker : bool, default True
        Start the backfill worker with the app (resuming interrupted tasks).

    Returns
    -------
    fastapi.FastAPI
        The interactive docs are off (they would load scripts from a CDN); the OpenAPI
        document is at ``/openapi.json``.
    """
    store = store if isinstance(store, Store) else Store(store)
    reader = CandleReader(store, sources=tuple(sources) if sources else None)
    service = InfoService(reader, dialect)
    worker = BackfillWorker(store, source=upstream, base_url=base_url,
                            source_options=source_options, max_running=max_running,
                            follow=follow)
    state = ServerState(store, reader, service, worker, token)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if run_worker:
            worker.start()
        try:
            yield
        finally:
            if run_worker:
                worker.stop()

    app = FastAPI(title="candlekit", version=_version(), lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json",
                  description="Kline REST API and Hyperliquid/Hydromancer `POST /info` over a "
                              "candlekit store. Times are UTC, ranges [start, end).")
    app.state.ck = state
    app.include_router(klines_router(state))
    app.include_router(info_router(service, token=token, public_meta=public_meta))
    _add_analysis(app, state)
    _handlers(app)
    if cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins),
                           allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type"])
    if token:
        app.add_middleware(TokenMiddleware, token=token)
    app.add_middleware(BodyLimitMiddleware, max_body=max_body)
    _openapi(app)
    return app


def _version() -> str:
    from .. import __version__

    return __version__


def _add_analysis(app: FastAPI, state: ServerState) -> None:
    from .analysis import analysis_router

    app.include_router(analysis_router(state))


def _is_info(request: Request) -> bool:
    return request.method == "POST" and request.url.path in INFO_PATHS


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(CandlekitError)
    async def candlekit_error(request: Request, exc: CandlekitError) -> Response:
        resp = error_response(exc)
        if _is_info(request):  # the SDK reads err["code"] and err["msg"] of a 4xx /info body
            message = str(exc)
            return json_response({"error": message, "code": resp.status_code, "msg": message},
                                 resp.status_code)
        return resp

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        if _is_info(request):
            return Response(DESERIALIZE_ERROR, 422, media_type="text/plain; charset=utf-8")
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
            parts.append(f"{where}: {err.get('msg')}")
        return json_response(error_body(
            "invalid_request", "The request does not have the documented shape ("
            + "; ".join(parts) + "). See /openapi.json for the fields each endpoint takes."),
            422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        hint = {404: "No such endpoint: see /openapi.json for the paths served.",
                405: "This path does not take that method: see /openapi.json."}
        message = hint.get(exc.status_code, str(exc.detail))
        return json_response(error_body(code, message, status=exc.status_code),
                             exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        _log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(exc, status=500, code="internal_error",
                              message=f"Internal error ({type(exc).__name__}: {exc}); the "
                                      "store is unchanged. Report it with the request.")


def _openapi(app: FastAPI) -> None:
    """The OpenAPI document, with the models the raw ``/info`` entries refer to."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = get_openapi(title=app.title, version=app.version, description=app.description,
                          routes=app.routes)
        comps = doc.setdefault("components", {}).setdefault("schemas", {})
        for model in openapi_models():
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, sub in schema.pop("$defs", {}).items():
                comps.setdefault(name, sub)
            comps.setdefault(model.__name__, schema)
        for path in doc.get("paths", {}).values():  # FastAPI adds a 422 of its own shape
            for op in path.values():
                resp = op.get("responses", {}).get("422")
                if resp and "HTTPValidationError" in str(resp):
                    resp["content"] = {"application/json": {"schema": {
                        "$ref": "#/components/schemas/ErrorBody"}}}
        comps.pop("HTTPValidationError", None)
        comps.pop("ValidationError", None)
        app.openapi_schema = doc
        return doc

    app.openapi = build  # type: ignore[method-assign]


# --- running ---------------------------------------------------------------------------------


class RunningServer:
    """A server running in a background thread (from :func:`serve` with ``background=True``).

    Attributes
    ----------
    url : str
        ``http://host:port`` (the SDK's ``base_url``).
    app : fastapi.FastAPI
    """

    def __init__(self, server: Any, thread: threading.Thread, app: FastAPI):
        self._server = server
        self._thread = thread
        self.app = app
        sock = server.servers[0].sockets[0]
        host, port = sock.getsockname()[:2]
        self.host, self.port = host, port
        self.url = f"http://{host}:{port}"

    def close(self, timeout: float = 30.0) -> None:
        """Stop the server (its worker cancels running tasks, to resume on the next start)."""
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve(store: Store | str | os.PathLike[str] | None = None, *, host: str = "127.0.0.1",
          port: int = 8000, token: str | None = None, insecure: bool = False,
          background: bool = False, log_level: str = "warning", **options: Any
          ) -> RunningServer | None:
    """Serve a store over HTTP with uvicorn.

    Parameters
    ----------
    store : Store, path or None
    host : str, default "127.0.0.1"
        Only this machine can connect by default. Another address needs a ``token``
        (or ``insecure=True``, with a warning).
    port : int, default 8000
        0 picks a free port (see :attr:`RunningServer.url`).
    token : str, optional
        Default: ``$CANDLEKIT_TOKEN``.
    insecure : bool, default False
    background : bool, default False
        Run in a daemon thread and return a :class:`RunningServer` once it listens;
        otherwise block until interrupted.
    log_level : str, default "warning"
    **options
        For :func:`create_app` (``dialect=``, ``upstream=``, ``base_url=``, ``follow=``, ...).

    Returns
    -------
    RunningServer or None

    Raises
    ------
    BindError
        A non-loopback ``host`` without a token and without ``insecure``.
    """
    token = token if token is not None else (os.environ.get(TOKEN_ENV) or None)
    check_bind(host, token, insecure=insecure)
    app = create_app(store, token=token, **options)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level,
                            timeout_keep_alive=30, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    if not background:
        server.run()
        return None
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, daemon=True, name="candlekit-serve")
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise OSError(f"candlekit serve could not start on {host}:{port} (port in use?)")
        time.sleep(0.01)
    return RunningServer(server, thread, app)

"""The server's optional dependencies, with an error naming the extra when one is missing."""

from __future__ import annotations

from ..errors import MissingDependencyError

__all__ = ["MissingDependencyError", "fastapi", "orjson", "uvicorn"]


def _need(name: str):
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise MissingDependencyError(name, "server", "candlekit serve") from exc


orjson = _need("orjson")
fastapi = _need("fastapi")
uvicorn = _need("uvicorn")

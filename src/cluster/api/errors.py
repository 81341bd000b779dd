"""The one place errors become HTTP: every failure leaves as ``{"error": {message, type, param, code}}``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from cluster.api.responses import json_response
from cluster.db.errors import unreachable
from cluster.errors import ClusterError, DatabaseUnavailable, UpstreamError

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}
_SOURCES = {"body", "query", "path", "header", "cookie"}


def error_response(error: ClusterError) -> Response:
    return json_response(error.to_dict(), status=error.status, headers=error.headers)


def _count(request: Request, code: str | None, status: int) -> None:
    """Every error answer is counted by its code (``cluster_errors``): 402s, rate limits, refusals."""
    services = getattr(request.app.state, "services", None)  # absent while the service starts or stops
    if services is not None:
        services.request_log.metrics.error(code, status)


async def _cluster_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ClusterError)
    _count(request, exc.code, exc.status)
    if isinstance(exc, UpstreamError) and exc.body and exc.body.lstrip().startswith(b'{"error"'):
        return Response(exc.body, status_code=exc.status, media_type="application/json")
    return error_response(exc)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    _count(request, "invalid_request", 400)
    first = exc.errors()[0] if exc.errors() else {}
    loc = [str(part) for part in first.get("loc", ())]
    if loc and loc[0] in _SOURCES:  # OpenAI names the parameter, not where it was sent
        loc = loc[1:]
    param = ".".join(loc) or None
    if first.get("type") == "json_invalid":
        message, param = "The request body is not valid JSON", None
    else:
        message = f"{first.get('msg', 'Invalid request')}" + (f" (at '{param}')" if param else "")
    body = {
        "error": {
            "message": message,
            "type": "invalid_request_error",
            "param": param,
            "code": "invalid_request",
        }
    }
    return json_response(body, status=400)


async def _http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    body = {"error": {"message": str(exc.detail), "type": "invalid_request_error", "param": None, "code": code}}
    return json_response(body, status=exc.status_code, headers=exc.headers)


def internal_error() -> Response:
    """What an unexpected failure answers (``api.middleware.Unexpected``): nothing of the failure itself."""
    body = {
        "error": {"message": "Internal server error", "type": "server_error", "param": None, "code": "internal_error"}
    }
    return json_response(body, status=500)


async def _database_unreachable(request: Request, exc: Exception) -> Response:
    """A request that cannot reach the database is told to come back (503, Retry-After), not that we failed."""
    if not unreachable(exc):
        raise exc  # a bug, not an outage: the last handler (api.middleware.Unexpected) answers 500
    unavailable = DatabaseUnavailable("the database cannot be reached; retry shortly", headers={"retry-after": "1"})
    _count(request, unavailable.code, unavailable.status)
    return error_response(unavailable)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ClusterError, _cluster_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(SQLAlchemyError, _database_unreachable)
    app.add_exception_handler(OSError, _database_unreachable)

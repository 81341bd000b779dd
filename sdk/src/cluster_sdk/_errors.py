"""Typed errors. Every HTTP error carries the server's OpenAI-format ``type``, ``code`` and ``param``."""

from __future__ import annotations

from typing import Any


class ClusterSDKError(Exception):
    """Base of everything this SDK raises."""


class APIError(ClusterSDKError):
    def __init__(
        self, message: str, *, type: str | None = None, code: str | None = None, param: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.type = type
        self.code = code
        self.param = param


class APIConnectionError(APIError):
    """The server could not be reached (after retries)."""


class APIStreamError(APIError):
    """The server ended a stream with an error event."""


class APIStatusError(APIError):
    status_code: int = 0

    def __init__(self, message: str, *, status_code: int, body: Any = None, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.status_code = status_code
        self.body = body


class BadRequestError(APIStatusError): ...


class AuthenticationError(APIStatusError): ...


class PaymentRequiredError(APIStatusError): ...


class PaymentLimitError(ClusterSDKError):
    """The wallet would not pay: the price is over ``max_payment`` or the client's ``max_total`` is spent."""


class PermissionDeniedError(APIStatusError): ...


class NotFoundError(APIStatusError): ...


class PayloadTooLargeError(APIStatusError): ...


class RateLimitError(APIStatusError): ...


class InternalServerError(APIStatusError): ...


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    403: PermissionDeniedError,
    404: NotFoundError,
    413: PayloadTooLargeError,
    429: RateLimitError,
}


def error_for(status: int, body: Any) -> APIStatusError:
    error = body.get("error") if isinstance(body, dict) else None
    fields: dict[str, Any] = {}
    if isinstance(error, dict):
        message = str(error.get("message") or f"HTTP {status}")
        fields = {"type": error.get("type"), "code": error.get("code"), "param": error.get("param")}
    elif isinstance(error, str) and "x402Version" in body:  # x402's 402: the error is the spec's reason
        message = f"payment required: {error}"
        fields = {"type": "payment_required", "code": error}
    else:
        message = f"HTTP {status}: {str(body)[:200]}"
    cls = _BY_STATUS.get(status, InternalServerError if status >= 500 else APIStatusError)
    return cls(message, status_code=status, body=body, **fields)

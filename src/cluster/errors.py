"""One typed error tree for the whole service, rendered to OpenAI's error JSON in one place
(``cluster.api.errors``)::

    ClusterError (500 server_error)
    ├── InvalidRequest (400 invalid_request_error)
    │   ├── UnsupportedParameter (400)
    │   └── TransactionReverted (400 transaction_reverted: a contract refused, with its reason)
    ├── Unauthorized (401 authentication_error)
    ├── PaymentRequired (402)
    │   ├── InsufficientBalance (402 insufficient_quota)
    │   └── X402Required (402: x402's own shape, see below)
    ├── PermissionDenied (403 permission_error)
    ├── NotFound (404)
    │   ├── ModelNotFound (404 model_not_found)
    │   └── FeatureDisabled (404 feature_disabled: the domain is switched off on this server)
    ├── Conflict (409)
    ├── PayloadTooLarge (413)
    ├── RateLimited (429 rate_limit_exceeded)
    ├── ServiceUnavailable (503: a dependency such as Redis is down and policy is to refuse)
    │   ├── ChainUnavailable (503: the chain's JSON-RPC node cannot be reached)
    │   └── DatabaseUnavailable (503 with Retry-After: the database cannot be reached)
    ├── UpstreamError (status and body of an upstream's own 4xx, passed through)
    └── ProviderUnavailable (503: no provider could serve the request)
        └── Overloaded (503: every provider at capacity)

Services raise these; foreign exceptions (aiohttp, SQLAlchemy) are converted at the boundary that meets them.
"""

from __future__ import annotations

from collections.abc import Mapping


class ClusterError(Exception):
    status: int = 500
    type: str = "server_error"
    code: str | None = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        self.headers = dict(headers or {})

    def to_dict(self) -> dict[str, object]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


class InvalidRequest(ClusterError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request"


class UnsupportedParameter(InvalidRequest):
    code = "unsupported_parameter"


class TransactionReverted(InvalidRequest):
    """A contract call or transaction reverted; ``reason`` is the revert string or decoded custom error."""

    code = "transaction_reverted"

    def __init__(self, reason: str, *, tx_hash: str | None = None) -> None:
        super().__init__(f"transaction reverted: {reason}")
        self.reason = reason
        self.tx_hash = tx_hash


class Unauthorized(ClusterError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PaymentRequired(ClusterError):
    status = 402
    type = "payment_required"
    code = "payment_required"


class InsufficientBalance(PaymentRequired):
    type = "insufficient_quota"
    code = "insufficient_quota"


class X402Required(PaymentRequired):
    """Pay with x402 (no key was sent, or the payment sent was refused or failed to settle).

    The one error that does not leave in OpenAI's shape: x402 clients read the requirements from the
    ``PAYMENT-REQUIRED`` header (v2) or from the body (v1, ``{"x402Version": 1, "error": str, "accepts": […]}``),
    so the body is x402's. ``reason`` is the spec's machine-readable ``invalidReason``.
    """

    def __init__(
        self, message: str, *, body: dict[str, object], headers: Mapping[str, str], reason: str | None = None
    ) -> None:
        super().__init__(message, code=reason or "payment_required", headers=headers)
        self.reason = reason
        self.body = body

    def to_dict(self) -> dict[str, object]:
        return self.body


class PermissionDenied(ClusterError):
    status = 403
    type = "permission_error"
    code = "permission_denied"


class NotFound(ClusterError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


class ModelNotFound(NotFound):
    code = "model_not_found"


class FeatureDisabled(NotFound):
    """Every endpoint of a switched-off domain answers this, the same way: as a server without that endpoint
    would (404, which clients do not retry), naming the setting that turns it on."""

    code = "feature_disabled"


class Conflict(ClusterError):
    status = 409
    type = "invalid_request_error"
    code = "conflict"


class PayloadTooLarge(ClusterError):
    status = 413
    type = "invalid_request_error"
    code = "payload_too_large"


class RateLimited(ClusterError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"


class ServiceUnavailable(ClusterError):
    status = 503
    type = "server_error"
    code = "service_unavailable"


class ChainUnavailable(ServiceUnavailable):
    code = "chain_unavailable"


class DatabaseUnavailable(ServiceUnavailable):
    code = "database_unavailable"


class UpstreamError(ClusterError):
    """An upstream refused the request itself (a 4xx other than 429): the client's problem, not rerouted."""

    type = "invalid_request_error"
    code = "upstream_error"

    def __init__(self, status: int, message: str, body: bytes | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class ProviderUnavailable(ClusterError):
    status = 503
    type = "server_error"
    code = "provider_unavailable"


class Overloaded(ProviderUnavailable):
    code = "overloaded"

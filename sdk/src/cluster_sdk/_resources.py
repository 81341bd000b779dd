"""Resources written once for both clients: each method describes its call, and the client's ``call`` runs
it (for ``AsyncCluster``, ``call`` returns an awaitable). Only streaming chat differs per client."""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import urlencode

from cluster_sdk._types import (
    ApiKey,
    Balance,
    ChainDataset,
    ChainInfo,
    CreateEmbeddingResponse,
    DepositList,
    Model,
    UsageReport,
)


class _Caller(Protocol):
    def call(self, method: str, path: str, body: dict[str, Any] | None, parse: Any) -> Any: ...


def _query(**params: Any) -> str:
    given = {k: v for k, v in params.items() if v is not None}
    return f"?{urlencode(given)}" if given else ""


class Embeddings:
    def __init__(self, client: _Caller) -> None:
        self._client = client

    def create(self, **params: Any) -> Any:
        return self._client.call("POST", "/embeddings", params, CreateEmbeddingResponse.model_validate)


class Models:
    def __init__(self, client: _Caller) -> None:
        self._client = client

    def list(self) -> Any:
        return self._client.call("GET", "/models", None, lambda d: [Model.model_validate(m) for m in d["data"]])

    def retrieve(self, model: str) -> Any:
        return self._client.call("GET", f"/models/{model}", None, Model.model_validate)


class Keys:
    def __init__(self, client: _Caller) -> None:
        self._client = client

    def create(self, **params: Any) -> Any:
        """``name``, ``scopes``, ``models``, ``expires_in_days``, ``rpm``, ``tpm``, ``user_id`` (admin)."""
        return self._client.call("POST", "/keys", params, ApiKey.model_validate)

    def list(self, user_id: str | None = None) -> Any:
        return self._client.call(
            "GET", f"/keys{_query(user_id=user_id)}", None, lambda d: [ApiKey.model_validate(k) for k in d["data"]]
        )

    def revoke(self, key_id: str) -> Any:
        return self._client.call("DELETE", f"/keys/{key_id}", None, ApiKey.model_validate)


class Balances:
    def __init__(self, client: _Caller) -> None:
        self._client = client

    def retrieve(self, user_id: str | None = None) -> Any:
        return self._client.call("GET", f"/balance{_query(user_id=user_id)}", None, Balance.model_validate)


class Usage:
    def __init__(self, client: _Caller) -> None:
        self._client = client

    def retrieve(self, start: str, end: str, group_by: str = "model,day", key_id: str | None = None) -> Any:
        query = _query(start=start, end=end, group_by=group_by, key_id=key_id)
        return self._client.call("GET", f"/usage{query}", None, UsageReport.model_validate)


class Chain:
    """The settlement chain: contract addresses, datasets on chain, and deposits into the caller's balance."""

    def __init__(self, client: _Caller) -> None:
        self._client = client

    def info(self) -> Any:
        return self._client.call("GET", "/chain/info", None, ChainInfo.model_validate)

    def dataset(self, dataset: int | str) -> Any:
        """By token id or registry slug."""
        return self._client.call("GET", f"/chain/datasets/{dataset}", None, ChainDataset.model_validate)

    def deposits(self, user_id: str | None = None) -> Any:
        """The deposit reference to pass to ``Deposits.deposit`` on chain, and the deposits seen so far."""
        return self._client.call("GET", f"/chain/deposits{_query(user_id=user_id)}", None, DepositList.model_validate)

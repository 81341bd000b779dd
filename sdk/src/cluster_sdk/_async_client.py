"""The asynchronous client (same surface as ``Cluster``, awaitable)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx

from cluster_sdk._base import (
    ClientConfig,
    build_request,
    decode_event,
    raise_for_status,
    retry_delay,
    should_retry,
)
from cluster_sdk._errors import APIConnectionError
from cluster_sdk._resources import (
    Audio,
    Balances,
    Chain,
    Datasets,
    Embeddings,
    Images,
    Keys,
    Models,
    Progress,
    Rerank,
    Score,
    Usage,
    Wallets,
    attach,
)
from cluster_sdk._types import ChatCompletion, ChatCompletionChunk
from cluster_sdk._wallet import Money, Wallet, amount_of


class AsyncCluster:
    """``AsyncCluster(base_url=..., api_key=...)``: chat completions (streaming too), embeddings, models.

    Retries connection errors, 408/409/429/5xx with exponential backoff (or the server's Retry-After) up to
    ``max_retries`` times; a stream is only retried before its first event.
    """

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        api_key: str | None = None,
        *,
        max_retries: int = 2,
        timeout: float | httpx.Timeout | None = None,
        http_client: httpx.AsyncClient | None = None,
        wallet: str | Wallet | None = None,
        max_payment: Money | None = None,
        max_total: Money | None = None,
    ) -> None:
        """``wallet``: a private key (or a ``Wallet``) that pays with x402 when the server answers 402;
        ``max_payment`` / ``max_total`` cap one payment and all of them (USDC as ``"0.01"``, or micro-USDC as an
        ``int``)."""
        self._config = ClientConfig.of(base_url, api_key, max_retries, timeout)
        self._http = http_client or httpx.AsyncClient(timeout=self._config.timeout)
        self.chat = _Chat(self)
        self.embeddings: Embeddings
        self.audio: Audio
        self.images: Images
        self.rerank: Rerank
        self.score: Score
        self.models: Models
        self.keys: Keys
        self.balance: Balances
        self.usage: Usage
        self.chain: Chain
        self.datasets: Datasets
        self.wallets: Wallets
        self.wallet: Wallet | None
        attach(self, wallet, max_payment, max_total)

    async def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        stream: bool = False,
        form: dict[str, Any] | None = None,
        files: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """One call, retried on transport errors and retryable statuses, a 402 paid by the wallet. ``form`` and
        ``files`` send a multipart body instead of JSON (in memory, so a retry sends it again)."""
        url = self._config.base_url + path
        payment: dict[str, str] = {}
        for attempt in range(self._config.max_retries + 1):
            last = attempt == self._config.max_retries
            try:
                headers = {**self._config.headers(), **payment}
                request = build_request(self._http, method, url, body, form, files, headers)
                response = await self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                if last:
                    raise APIConnectionError(f"cannot reach {url}: {exc}") from exc
                await asyncio.sleep(retry_delay(attempt, None))
                continue
            if response.status_code == 402 and self.wallet is not None and not payment:
                payment = self.wallet.pay(response)  # PaymentLimitError when over the limits
                await response.aclose()
                request = build_request(self._http, method, url, body, form, files, {**headers, **payment})
                response = await self._http.send(request, stream=stream)
                if response.status_code == 402:
                    self.wallet.refund(amount_of(payment))
                else:
                    self.wallet.note_receipt(response)
            if should_retry(response) and not last:
                await response.aclose()
                await asyncio.sleep(retry_delay(attempt, response))
                continue
            if response.status_code >= 400 and stream:
                await response.aread()
                await response.aclose()
            raise_for_status(response)
            return response
        raise AssertionError("unreachable")

    async def fetch(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        parse: Any,
        *,
        form: dict[str, Any] | None = None,
        files: dict[str, Any] | None = None,
    ) -> Any:
        """A call whose whole response ``parse`` reads (audio bytes, a transcript in any format)."""
        return parse(await self.request(method, path, body, form=form, files=files))

    async def send_form(self, method: str, path: str, fields: dict[str, str], upload: Any, parse: Any) -> Any:
        """A multipart upload of ``upload = (file path, progress callback or None)``: sent once, not retried
        (its body is a stream read from disk as it goes)."""
        url, (file, progress) = self._config.base_url + path, upload
        with open(file, "rb") as handle:  # noqa: ASYNC230 - httpx sends multipart files from sync file objects
            body = Progress(handle, progress) if progress else handle
            files: Any = {"file": (os.path.basename(file), body)}
            try:
                response = await self._http.request(
                    method, url, data=fields, files=files, headers=self._config.headers()
                )
            except httpx.TransportError as exc:
                raise APIConnectionError(f"cannot reach {url}: {exc}") from exc
        raise_for_status(response)
        return parse(response.json())

    async def save(self, path: str, destination: Any, headers: dict[str, str] | None = None) -> int:
        """Stream a download into ``destination`` (a path); returns the bytes written."""
        url, written = self._config.base_url + path, 0
        async with self._http.stream("GET", url, headers={**self._config.headers(), **(headers or {})}) as response:
            if response.status_code >= 400:
                await response.aread()
                raise_for_status(response)
            with open(destination, "wb") as out:  # noqa: ASYNC230 - local writes of what the network delivers
                async for piece in response.aiter_bytes():
                    written += out.write(piece)
        return written

    async def call(self, method: str, path: str, body: dict[str, Any] | None, parse: Any) -> Any:
        response = await self.request(method, path, body)
        return parse(response.json())

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncCluster:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()


class _Completions:
    def __init__(self, client: AsyncCluster) -> None:
        self._client = client

    async def create(self, **params: Any) -> Any:
        """A ``ChatCompletion``, or an async iterator of ``ChatCompletionChunk`` when ``stream=True``."""
        if params.get("stream"):
            return _chunks(await self._client.request("POST", "/chat/completions", params, stream=True))
        response = await self._client.request("POST", "/chat/completions", params)
        return ChatCompletion.model_validate_json(response.content)


async def _chunks(response: httpx.Response) -> AsyncIterator[ChatCompletionChunk]:
    try:
        async for line in response.aiter_lines():
            payload = decode_event(line)
            if payload is not None:
                yield ChatCompletionChunk.model_validate(payload)
    finally:
        await response.aclose()


class _Chat:
    def __init__(self, client: AsyncCluster) -> None:
        self.completions = _Completions(client)

"""The synchronous client."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
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


class Cluster:
    """``Cluster(base_url=..., api_key=...)``: chat completions (streaming too), embeddings, models.

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
        http_client: httpx.Client | None = None,
        wallet: str | Wallet | None = None,
        max_payment: Money | None = None,
        max_total: Money | None = None,
    ) -> None:
        """``wallet``: a private key (or a ``Wallet``) that pays with x402 when the server answers 402;
        ``max_payment`` / ``max_total`` cap one payment and all of them (USDC as ``"0.01"``, or micro-USDC as an
        ``int``)."""
        self._config = ClientConfig.of(base_url, api_key, max_retries, timeout)
        self._http = http_client or httpx.Client(timeout=self._config.timeout)
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

    def request(
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
                response = self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                if last:
                    raise APIConnectionError(f"cannot reach {url}: {exc}") from exc
                time.sleep(retry_delay(attempt, None))
                continue
            if response.status_code == 402 and self.wallet is not None and not payment:
                payment = self.wallet.pay(response)  # PaymentLimitError when over the limits
                response.close()
                request = build_request(self._http, method, url, body, form, files, {**headers, **payment})
                response = self._http.send(request, stream=stream)
                if response.status_code == 402:
                    self.wallet.refund(amount_of(payment))
                else:
                    self.wallet.note_receipt(response)
            if should_retry(response) and not last:
                response.close()
                time.sleep(retry_delay(attempt, response))
                continue
            if response.status_code >= 400 and stream:
                response.read()
                response.close()
            raise_for_status(response)
            return response
        raise AssertionError("unreachable")

    def fetch(
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
        return parse(self.request(method, path, body, form=form, files=files))

    def send_form(self, method: str, path: str, fields: dict[str, str], upload: Any, parse: Any) -> Any:
        """A multipart upload of ``upload = (file path, progress callback or None)``: sent once, not retried
        (its body is a stream read from disk as it goes)."""
        url, (file, progress) = self._config.base_url + path, upload
        with open(file, "rb") as handle:
            body = Progress(handle, progress) if progress else handle
            files: Any = {"file": (os.path.basename(file), body)}
            try:
                response = self._http.request(method, url, data=fields, files=files, headers=self._config.headers())
            except httpx.TransportError as exc:
                raise APIConnectionError(f"cannot reach {url}: {exc}") from exc
        raise_for_status(response)
        return parse(response.json())

    def save(self, path: str, destination: Any, headers: dict[str, str] | None = None) -> int:
        """Stream a download into ``destination`` (a path); returns the bytes written."""
        url, written = self._config.base_url + path, 0
        with self._http.stream("GET", url, headers={**self._config.headers(), **(headers or {})}) as response:
            if response.status_code >= 400:
                response.read()
                raise_for_status(response)
            with open(destination, "wb") as out:
                for piece in response.iter_bytes():
                    written += out.write(piece)
        return written

    def call(self, method: str, path: str, body: dict[str, Any] | None, parse: Any) -> Any:
        response = self.request(method, path, body)
        return parse(response.json())

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class _Completions:
    def __init__(self, client: Cluster) -> None:
        self._client = client

    def create(self, **params: Any) -> Any:
        """A ``ChatCompletion``, or an iterator of ``ChatCompletionChunk`` when ``stream=True``."""
        if params.get("stream"):
            return _chunks(self._client.request("POST", "/chat/completions", params, stream=True))
        response = self._client.request("POST", "/chat/completions", params)
        return ChatCompletion.model_validate_json(response.content)


def _chunks(response: httpx.Response) -> Iterator[ChatCompletionChunk]:
    try:
        for line in response.iter_lines():
            payload = decode_event(line)
            if payload is not None:
                yield ChatCompletionChunk.model_validate(payload)
    finally:
        response.close()


class _Chat:
    def __init__(self, client: Cluster) -> None:
        self.completions = _Completions(client)

"""What the sync and async clients share: configuration, retry policy, error mapping, SSE decoding."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

import httpx

from cluster_sdk._errors import APIStreamError, error_for

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
DEFAULT_TIMEOUT = httpx.Timeout(600.0, connect=5.0)


@dataclass(frozen=True)
class ClientConfig:
    base_url: str
    api_key: str | None
    max_retries: int
    timeout: httpx.Timeout

    @classmethod
    def of(
        cls, base_url: str, api_key: str | None, max_retries: int, timeout: float | httpx.Timeout | None
    ) -> ClientConfig:
        url = base_url.rstrip("/")
        if not url.endswith("/v1"):
            url += "/v1"
        if timeout is None:
            timeout = DEFAULT_TIMEOUT
        elif not isinstance(timeout, httpx.Timeout):
            timeout = httpx.Timeout(timeout)
        return cls(url, api_key, max_retries, timeout)

    def headers(self) -> dict[str, str]:
        headers = {"accept": "application/json", "user-agent": "cluster-sdk/0.1.0"}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        return headers


def retry_delay(attempt: int, response: httpx.Response | None) -> float:
    """Exponential backoff with jitter (0.5 s, 1 s, 2 s … capped at 8 s), or the server's Retry-After."""
    if response is not None:
        retry_after = response.headers.get("retry-after")
        if retry_after:
            try:
                return float(min(float(retry_after), 60.0))
            except ValueError:
                pass
    return min(0.5 * 2.0**attempt, 8.0) * (0.75 + random.random() / 2)


def should_retry(response: httpx.Response) -> bool:
    return response.status_code in RETRY_STATUSES


def raise_for_status(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    raise error_for(response.status_code, body)


def decode_event(line: str) -> dict[str, Any] | None:
    """One SSE line → its JSON payload; None for non-data lines and for ``[DONE]``."""
    if not line.startswith("data:"):
        return None
    data = line[5:].strip()
    if data == "[DONE]":
        return None
    payload: dict[str, Any] = json.loads(data)
    if "error" in payload and "choices" not in payload:
        error = payload["error"] or {}
        raise APIStreamError(
            str(error.get("message", "stream error")),
            type=error.get("type"),
            code=error.get("code"),
            param=error.get("param"),
        )
    return payload


def build_request(
    http: httpx.Client | httpx.AsyncClient,
    method: str,
    url: str,
    body: dict[str, Any] | None,
    form: dict[str, Any] | None,
    files: dict[str, Any] | None,
    headers: dict[str, str],
) -> httpx.Request:
    """JSON, or a multipart body when there are ``files`` (held in memory, so a retry can send it again)."""
    if files is not None:
        return http.build_request(method, url, data=form, files=files, headers=headers)
    return http.build_request(method, url, json=body, headers=headers)

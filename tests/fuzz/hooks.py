"""Schemathesis checks of Cluster's own (loaded with SCHEMATHESIS_HOOKS=tests.fuzz.hooks)."""

from __future__ import annotations

from typing import Any

import schemathesis


@schemathesis.check
def openai_error_shape(ctx: Any, response: Any, case: Any) -> None:
    """Every error answers OpenAI's ``{"error": {"message", "type", "param", "code"}}``, except x402's own 402
    (payment requirements, as the x402 spec shapes them)."""
    if response.status_code < 400:
        return
    body = response.json()
    if response.status_code == 402 and isinstance(body, dict) and "x402Version" in body:
        return
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not {"message", "type", "param", "code"} <= error.keys():
        raise AssertionError(f"not OpenAI's error shape: {str(body)[:200]}")

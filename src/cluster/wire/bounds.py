"""Bounds for the numbers the API takes, shared by every wire model: a value outside them is a 400 naming the
parameter, and the OpenAPI spec states them, instead of an overflow deep inside (SQLite's and orjson's 64-bit
integers, ``timedelta``, a C library's int32)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

MAX_MICRO_USDC = 10**15  # a billion USDC: more than any one amount the service moves
MAX_OFFSET = 10**9  # rows skipped by a page
INT32 = 2**31 - 1
INT64 = 2**63 - 1

#: an amount of money in micro-USDC (1 USDC = 1,000,000)
MicroUSDC = Annotated[int, Field(ge=0, le=MAX_MICRO_USDC, description="micro-USDC")]
PositiveMicroUSDC = Annotated[int, Field(gt=0, le=MAX_MICRO_USDC, description="micro-USDC")]
#: a count of tokens (a cap on output, a limit per minute)
Tokens = Annotated[int, Field(ge=1, le=INT32)]
Int64 = Annotated[int, Field(ge=-INT64 - 1, le=INT64)]

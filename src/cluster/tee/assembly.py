"""The tee domain, assembled: what confidential providers are built with."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.tee.receipts import ReceiptStore

#: is this enclave build (its compose hash) allowed? (the on-chain ComposeRegistry)
ComposeCheck = Callable[[bytes], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class Tee:
    #: receipts of confidential responses and the attestations they were verified against
    receipts: ReceiptStore
    #: the on-chain check of enclave builds (None: no registry, each provider's allow-list decides)
    compose_allowed: ComposeCheck | None


@asynccontextmanager
async def running(engine: AsyncEngine, compose_allowed: ComposeCheck | None) -> AsyncIterator[Tee]:
    yield Tee(ReceiptStore(engine), compose_allowed)

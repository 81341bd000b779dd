"""The composition root: every domain, in dependency order, on one exit stack.

Each domain assembles itself (``<domain>/assembly.py``: an async context that takes ``Settings`` and the
services it needs and yields its own, or None when it is switched off) and closes what it opened. The order
below is the dependency order; stopping runs it backwards, and a failed start unwinds what had started.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from cluster import tracing
from cluster.agents import assembly as agents
from cluster.agents.service import Agents
from cluster.auth import AuthService
from cluster.auth import assembly as auth
from cluster.auth.ratelimit import RateLimiter
from cluster.auth.signin import SignIn
from cluster.billing import BillingService
from cluster.billing import assembly as billing
from cluster.chain import assembly as chain
from cluster.chain.service import ChainService
from cluster.db import assembly as db
from cluster.finetune import assembly as finetune
from cluster.finetune.deployed import FineTunedModels
from cluster.finetune.service import FineTuning
from cluster.gateway import assembly as gateway
from cluster.gateway.media import MediaService
from cluster.gateway.service import InferenceService
from cluster.marketplace import assembly as marketplace
from cluster.marketplace.royalties import Royalties
from cluster.marketplace.service import Marketplace
from cluster.metering import RequestLogWriter
from cluster.metering import assembly as metering
from cluster.metering.usage import UsageService
from cluster.payments import assembly as payments
from cluster.payments.service import X402Service
from cluster.settings import Settings
from cluster.storage import assembly as storage
from cluster.tee import assembly as tee
from cluster.tee.receipts import ReceiptStore
from cluster.tracing import Tracing


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    engine: AsyncEngine
    request_log: RequestLogWriter
    usage: UsageService
    auth: AuthService
    signin: SignIn
    limiter: RateLimiter
    billing: BillingService
    receipts: ReceiptStore
    inference: InferenceService
    media: MediaService
    fine_tuned: FineTunedModels
    #: None: the domain is switched off (its endpoints answer ``feature_disabled``)
    chain: ChainService | None
    x402: X402Service | None
    marketplace: Marketplace | None
    agents: Agents | None
    royalties: Royalties | None
    fine_tuning: FineTuning | None
    tracing: Tracing

    @classmethod
    @asynccontextmanager
    async def running(cls, settings: Settings) -> AsyncIterator[Services]:
        async with AsyncExitStack() as stack:
            enter = stack.enter_async_context
            traces = await enter(tracing.running(settings))
            engine = await enter(db.running(settings))
            request_log = await enter(metering.running(settings, engine))
            keys = await enter(auth.running(settings, engine))
            limiter = await enter(auth.limits(settings))
            ledger = await enter(billing.running(settings, engine))
            onchain = await enter(chain.running(settings, engine, ledger, request_log.metrics))
            rpc = onchain.client if onchain else None
            chain_id, rpc_url = (rpc.chain_id, rpc.rpc_url) if rpc else (None, None)
            signin = await enter(auth.signin(settings, engine, keys, chain_id, rpc_url))
            x402 = await enter(payments.running(settings, engine, ledger, onchain, request_log.metrics))
            store = await enter(storage.running(settings))
            market = await enter(marketplace.running(settings, engine, store, onchain))
            managed = await enter(agents.running(settings, engine, onchain, store))
            trust = await enter(tee.running(engine, onchain.compose_allowed if onchain else None))
            routing = await enter(gateway.routing(settings, trust, request_log.metrics))
            fine_tuned = await enter(finetune.deployed(settings, engine, routing))
            royalties = await enter(marketplace.royalties(settings, engine, onchain, fine_tuned.lineages))
            inference = await enter(gateway.inference(settings, routing, request_log, fine_tuned, traces))
            media = await enter(gateway.media(settings, engine, inference))
            jobs = await enter(finetune.running(settings, engine, routing, market, ledger, request_log.metrics))
            yield cls(
                settings,
                engine,
                request_log,
                UsageService(engine),
                keys,
                signin,
                limiter,
                ledger,
                trust.receipts,
                inference,
                media,
                fine_tuned,
                onchain,
                x402,
                market,
                managed,
                royalties,
                jobs,
                traces,
            )

"""Building every service once from ``Settings`` (and tearing it down): the composition root."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.auth import AuthService
from cluster.auth.keys import load_or_create_secret
from cluster.auth.ratelimit import Counters, MemoryCounters, RateLimiter, RedisCounters
from cluster.billing import BillingService
from cluster.chain.service import ChainService
from cluster.db import make_engine, upgrade
from cluster.finetune.deployed import FineTunedModels
from cluster.finetune.files import Files
from cluster.finetune.local import LocalTrainer
from cluster.finetune.remote import RemoteTrainer
from cluster.finetune.runner import JobRunner
from cluster.finetune.service import FineTuning
from cluster.finetune.trainer import Trainer
from cluster.gateway.breaker import CircuitBreaker
from cluster.gateway.catalog import Catalog
from cluster.gateway.router import Router, Upstream
from cluster.gateway.service import InferenceService
from cluster.marketplace.royalties import Royalties
from cluster.marketplace.service import Marketplace
from cluster.marketplace.wallets import Wallets
from cluster.metering import RequestLogWriter
from cluster.metering.usage import UsageService
from cluster.payments.service import X402Service
from cluster.periodic import every
from cluster.providers.confidential import ConfidentialProvider
from cluster.providers.local import assets
from cluster.providers.registry import build_provider, bundled_models
from cluster.settings import ProviderConfig, Settings
from cluster.storage.blockstore import Blockstore, FileBlockstore, KuboBlockstore
from cluster.storage.encryption import KeyWrapper
from cluster.storage.pinning import PinataPinner
from cluster.tee.receipts import ReceiptStore


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    request_log: RequestLogWriter
    inference: InferenceService
    auth: AuthService
    billing: BillingService
    limiter: RateLimiter
    usage: UsageService
    tasks: list[asyncio.Task[None]]
    chain: ChainService | None = None
    x402: X402Service | None = None
    marketplace: Marketplace | None = None
    royalties: Royalties | None = None
    fine_tuning: FineTuning | None = None
    fine_tuned: FineTunedModels | None = None
    runner: JobRunner | None = None
    receipts: ReceiptStore | None = None

    @classmethod
    async def start(cls, settings: Settings) -> Services:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.resolved_database_url)
        await upgrade(engine)
        local_providers, local_models = bundled_models(settings)
        declared = {m.id for m in settings.models}
        provider_configs = [*local_providers, *settings.providers]
        model_configs = [*settings.models, *(m for m in local_models if m.id not in declared)]
        catalog = Catalog(model_configs, provider_configs)
        upstreams = {
            config.name: Upstream(
                provider=build_provider(config, settings),
                breaker=CircuitBreaker(settings.router.breaker_failures, settings.router.breaker_cooldown),
                weight=config.weight,
                max_concurrency=config.max_concurrency,
            )
            for config in provider_configs
        }
        router = Router(upstreams, settings.router)
        request_log = RequestLogWriter(engine, settings.request_log)
        request_log.start()
        inference = InferenceService(
            catalog, router, request_log, default_max_tokens=settings.billing.default_max_tokens
        )
        secret = (
            settings.auth.key_secret.get_secret_value().encode()
            if settings.auth.key_secret
            else load_or_create_secret(settings.data_dir / "key_secret")
        )
        auth = AuthService(engine, secret, settings.auth.cache_ttl)
        billing = BillingService(engine, settings.billing)
        await billing.start()
        counters: Counters = RedisCounters(settings.redis_url) if settings.redis_url else MemoryCounters()
        limiter = RateLimiter(counters, fail_open=settings.limits.fail_open)
        tasks = [asyncio.create_task(every(5.0, auth.flush_last_used), name="keys-last-used")]
        services = cls(settings, engine, request_log, inference, auth, billing, limiter, UsageService(engine), tasks)
        store: Blockstore = (
            KuboBlockstore(settings.storage.kubo_url)
            if settings.storage.backend == "kubo"
            else FileBlockstore(settings.data_dir / "blocks")
        )
        storage = settings.storage
        jwt = storage.pinning_jwt.get_secret_value() if storage.pinning_jwt else ""
        pinner = PinataPinner(storage.pinning_url, jwt) if storage.pinning_url else None
        services.marketplace = Marketplace(
            engine, storage, store, _master_keys(settings), Wallets(engine), None, pinner=pinner
        )
        services.receipts = ReceiptStore(engine)
        confidential = [p for p in router.providers() if isinstance(p, ConfidentialProvider)]
        for provider in confidential:
            provider.attach(services.receipts)
        trainable = _trainable(provider_configs)
        services.fine_tuned = FineTunedModels(engine, settings, catalog, router, trainable)
        inference.dynamic = services.fine_tuned.resolve
        try:
            if settings.chain.enabled:
                services.chain = await ChainService.start(settings, engine, billing)
                services.marketplace.attach_chain(services.chain)
                registry = services.chain.contracts.compose_registry
                for provider in confidential:  # enclave builds must be allowed on chain
                    provider.attestor.compose_allowed = registry.allowed if registry else None
                lineage = {model.id: model.lineage for model in settings.models if model.lineage is not None}
                services.royalties = Royalties(engine, services.chain, lineage, services.fine_tuned.lineages)
                interval = settings.finetune.royalty_payout_interval
                if interval is not None:
                    payouts = asyncio.create_task(every(interval, services.royalties.payout), name="royalty-payouts")
                    services.tasks.append(payouts)
                if settings.x402.enabled:
                    services.x402 = await X402Service.start(settings.x402, engine, billing, services.chain)
            if settings.finetune.enabled:
                services._start_fine_tuning(trainable)
        except BaseException:
            await services.stop()
            raise
        return services

    def _start_fine_tuning(self, trainable: dict[str, Path]) -> None:
        settings = self.settings
        workdir = settings.data_dir / "finetune"
        files = Files(self.engine, settings.data_dir / "files", settings.finetune.max_file_bytes)
        self.fine_tuning = FineTuning(
            self.engine,
            settings.finetune,
            files,
            workdir,
            self.inference.catalog,
            trainable,
            self.marketplace,
            self.billing,
        )
        if not settings.finetune.run_jobs:
            return
        trainer: Trainer
        if settings.finetune.trainer == "remote":
            trainer = RemoteTrainer(settings.finetune)
        else:
            trainer = LocalTrainer(settings.finetune, settings.finetune.base_cache or workdir / "bases")
        self.runner = JobRunner(self.engine, settings.finetune, trainer, workdir, trainable, self.billing)
        self.runner.start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.stop()  # its jobs go back to the queue before anything else closes
        if self.fine_tuned is not None:
            await self.fine_tuned.aclose()
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.royalties is not None:
            await self.royalties.aclose()
        if self.x402 is not None:
            await self.x402.stop()
        if self.chain is not None:
            await self.chain.stop()
        await self.auth.flush_last_used()
        await self.billing.stop()
        await self.limiter.aclose()
        await self.request_log.stop()
        for provider in self.inference.router.providers():
            await provider.aclose()
        await self.engine.dispose()


def _trainable(providers: list[ProviderConfig]) -> dict[str, Path]:
    """Catalog models served from a local GGUF: the bases local LoRA can train on (and serve adapters over)."""
    paths: dict[str, Path] = {}
    for config in providers:
        if config.kind == "llama_cpp":
            for model_id in config.models:
                paths[model_id] = config.model_path or assets.smollm2_gguf()
    return paths


def _master_keys(settings: Settings) -> KeyWrapper:
    """The configured master keys (base64), or one generated beside the data on first start."""
    import base64

    storage = settings.storage
    if storage.master_keys:
        keys = {kid: base64.b64decode(key.get_secret_value()) for kid, key in storage.master_keys.items()}
        return KeyWrapper(keys, storage.current_master or sorted(keys)[-1])
    return KeyWrapper({"local": load_or_create_secret(settings.data_dir / "master_key")}, "local")

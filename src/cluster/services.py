"""Building every service once from ``Settings`` (and tearing it down): the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.db import make_engine, upgrade
from cluster.gateway.breaker import CircuitBreaker
from cluster.gateway.catalog import Catalog
from cluster.gateway.router import Router, Upstream
from cluster.gateway.service import InferenceService
from cluster.metering import RequestLogWriter
from cluster.providers.registry import build_provider, bundled_models
from cluster.settings import Settings


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    request_log: RequestLogWriter
    inference: InferenceService

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
        return cls(settings, engine, request_log, InferenceService(catalog, router, request_log))

    async def stop(self) -> None:
        await self.request_log.stop()
        for provider in self.inference.router.providers():
            await provider.aclose()
        await self.engine.dispose()

"""The gateway domain, assembled in two steps that other domains sit between:

1. ``routing``: the catalog and a router over every configured provider (bundled local models included). The
   router owns the providers: they close when the block ends.
2. ``inference``: the request path over that routing, with the models that exist outside the catalog
   (fine-tuned ones, found by name: ``extra``), so fine-tuning is assembled between the two.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.gateway.catalog import Catalog
from cluster.gateway.images import ImageStore
from cluster.gateway.media import MediaService
from cluster.gateway.router import Router
from cluster.gateway.service import InferenceService, ModelSource
from cluster.metering import RequestLogWriter
from cluster.metering.metrics import Metrics
from cluster.periodic import running_every
from cluster.providers.registry import build_provider, configured, trainable_bases
from cluster.settings import ProviderConfig, Settings
from cluster.tee.assembly import Tee
from cluster.tracing import Tracing


@dataclass(frozen=True, slots=True)
class Routing:
    catalog: Catalog
    router: Router
    #: catalog models served from a local GGUF: what local fine-tuning trains on and serves adapters over
    trainable: dict[str, Path]


def build_catalog(settings: Settings) -> tuple[Catalog, list[ProviderConfig]]:
    """The catalog this configuration serves and the providers behind it (the service and ``cluster models``
    alike)."""
    models, providers = configured(settings)
    return Catalog(models, providers), providers


@asynccontextmanager
async def routing(settings: Settings, tee: Tee, metrics: Metrics) -> AsyncIterator[Routing]:
    catalog, providers = build_catalog(settings)
    router = Router(settings.router)
    metrics.live(router.gauges)
    try:
        for config in providers:
            provider = build_provider(config, settings, tee)
            router.add(provider, weight=config.weight, max_concurrency=config.max_concurrency)
        yield Routing(catalog, router, trainable_bases(providers))
    finally:
        await router.aclose()


@asynccontextmanager
async def media(settings: Settings, engine: AsyncEngine, inference: InferenceService) -> AsyncIterator[MediaService]:
    """Speech, transcription, rerank and images over the inference path, with the store of ``url`` images and
    its sweep."""
    store = ImageStore(engine, settings.media.image_url_ttl)
    async with running_every(60, store.sweep, "image-sweep"):
        limits = settings.media
        yield MediaService(inference, store, max_audio_seconds=limits.max_audio_seconds, max_decodes=limits.max_decodes)


@asynccontextmanager
async def inference(
    settings: Settings, routing: Routing, request_log: RequestLogWriter, extra: ModelSource, tracing: Tracing
) -> AsyncIterator[InferenceService]:
    yield InferenceService(
        routing.catalog,
        routing.router,
        request_log,
        default_max_tokens=settings.billing.default_max_tokens,
        extra=extra,
        tracing=tracing,
    )

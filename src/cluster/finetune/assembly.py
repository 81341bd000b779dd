"""The finetune domain, assembled in two steps that the inference service sits between:

1. ``deployed``: fine-tuned models on the inference path (loaded on first use, unloaded at stop). Always on: a
   model trained before fine-tuning was switched off is still served.
2. ``running``: the jobs API and, where this process trains (``finetune.run_jobs``), the job runner, which
   stops first of all at shutdown so its jobs go back to the queue before anything they use closes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.billing import BillingService
from cluster.finetune.deployed import FineTunedModels
from cluster.finetune.files import Files
from cluster.finetune.local import LocalTrainer
from cluster.finetune.remote import RemoteTrainer
from cluster.finetune.runner import JobRunner
from cluster.finetune.service import FineTuning
from cluster.finetune.trainer import Trainer
from cluster.gateway.assembly import Routing
from cluster.marketplace.service import Marketplace
from cluster.metering.metrics import Metrics
from cluster.settings import Settings


@asynccontextmanager
async def deployed(settings: Settings, engine: AsyncEngine, routing: Routing) -> AsyncIterator[FineTunedModels]:
    models = FineTunedModels(engine, settings, routing.catalog, routing.router, routing.trainable)
    try:
        yield models
    finally:
        await models.aclose()


@asynccontextmanager
async def running(
    settings: Settings,
    engine: AsyncEngine,
    routing: Routing,
    marketplace: Marketplace | None,
    billing: BillingService,
    metrics: Metrics,
) -> AsyncIterator[FineTuning | None]:
    config = settings.finetune
    if not config.enabled:
        yield None
        return
    workdir = settings.data_dir / "finetune"
    files = Files(engine, settings.data_dir / "files", config.max_file_bytes)
    jobs = FineTuning(engine, config, files, workdir, routing.catalog, routing.trainable, marketplace, billing)
    if not config.run_jobs:
        yield jobs
        return
    trainer: Trainer = (
        RemoteTrainer(config)
        if config.trainer == "remote"
        else LocalTrainer(config, config.base_cache or workdir / "bases")
    )
    runner = JobRunner(engine, config, trainer, workdir, routing.trainable, billing)
    runner.start()
    metrics.live(runner.gauges)
    try:
        yield jobs
    finally:
        await runner.stop()

"""The ASGI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from cluster import __version__, hub
from cluster.api import errors
from cluster.api.middleware import AccessLog, BodyLimit, Unexpected
from cluster.api.routes import routers
from cluster.services import Services
from cluster.settings import Settings
from cluster.wire.audio import MAX_AUDIO_BYTES
from cluster.wire.openai import ErrorResponse

log = logging.getLogger("cluster")
#: every operation may answer these, always in OpenAI's error shape (api/errors.py): stated once in the spec
ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorResponse} for status in (400, 401, 402, 403, 404, 409, 413, 429, 500, 502, 503)
}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.load()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with Services.running(settings) as services:
            app.state.services = services
            if settings.auth.required and not await services.auth.has_admin():
                log.warning(
                    "No API keys yet. Create the first admin and its key with:  cluster admin init"
                    "  (then: cluster credit <user> <USDC> <idempotency-key>, or POST /v1/admin/credit)"
                )
            yield

    app = FastAPI(
        title="Cluster",
        version=__version__,
        summary="OpenAI-compatible gateway over routed providers and local models",
        lifespan=lifespan,
    )
    errors.install(app)
    for router in routers:
        app.include_router(router, responses=ERROR_RESPONSES)
    if settings.hub.enabled:
        hub.install(app)
    audio = MAX_AUDIO_BYTES + 64 * 1024  # the file and the form around it
    uploads = {
        "/v1/datasets": settings.storage.max_upload_bytes,
        "/v1/files": settings.finetune.max_file_bytes,
        "/v1/audio/transcriptions": audio,
        "/v1/audio/translations": audio,
    }
    app.add_middleware(BodyLimit, max_bytes=settings.server.max_body_bytes, uploads=uploads)
    app.add_middleware(Unexpected)
    app.add_middleware(AccessLog)  # added last: the outermost, so it sees every answer (a 500 too)
    return app

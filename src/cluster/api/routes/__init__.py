from cluster.api.routes import (
    accounts,
    audio,
    chain,
    chat,
    datasets,
    embeddings,
    files,
    fine_tuning,
    health,
    images,
    keys,
    metrics,
    models,
    rerank,
    tee,
    x402,
)

routers = [
    health.router,
    metrics.router,
    models.router,
    chat.router,
    embeddings.router,
    audio.router,
    rerank.router,
    images.router,
    keys.router,
    accounts.router,
    chain.router,
    x402.router,
    datasets.router,
    files.router,
    fine_tuning.router,
    tee.router,
]

__all__ = ["routers"]

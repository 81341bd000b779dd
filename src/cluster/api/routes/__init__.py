from cluster.api.routes import (
    accounts,
    chain,
    chat,
    datasets,
    embeddings,
    files,
    fine_tuning,
    health,
    keys,
    metrics,
    models,
    tee,
    x402,
)

routers = [
    health.router,
    metrics.router,
    models.router,
    chat.router,
    embeddings.router,
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

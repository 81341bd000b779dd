from cluster.api.routes import accounts, chain, chat, datasets, embeddings, health, keys, models, x402

routers = [
    health.router,
    models.router,
    chat.router,
    embeddings.router,
    keys.router,
    accounts.router,
    chain.router,
    x402.router,
    datasets.router,
]

__all__ = ["routers"]

from cluster.api.routes import accounts, chain, chat, embeddings, health, keys, models, x402

routers = [
    health.router,
    models.router,
    chat.router,
    embeddings.router,
    keys.router,
    accounts.router,
    chain.router,
    x402.router,
]

__all__ = ["routers"]

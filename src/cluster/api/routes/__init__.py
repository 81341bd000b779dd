from cluster.api.routes import accounts, chain, chat, embeddings, health, keys, models

routers = [health.router, models.router, chat.router, embeddings.router, keys.router, accounts.router, chain.router]

__all__ = ["routers"]

from cluster.api.routes import accounts, chat, embeddings, health, keys, models

routers = [health.router, models.router, chat.router, embeddings.router, keys.router, accounts.router]

__all__ = ["routers"]

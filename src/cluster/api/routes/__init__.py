from cluster.api.routes import chat, embeddings, health, models

routers = [health.router, models.router, chat.router, embeddings.router]

__all__ = ["routers"]

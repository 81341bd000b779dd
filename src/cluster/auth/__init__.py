"""Who is calling: users with roles, API keys with scopes, and the ``Principal`` a request runs as."""

from cluster.auth.principal import Principal, Role, Scope
from cluster.auth.service import AuthService

__all__ = ["AuthService", "Principal", "Role", "Scope"]

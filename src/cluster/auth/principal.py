from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from cluster.errors import PermissionDenied


class Role(StrEnum):
    USER = "user"
    CREATOR = "creator"
    ADMIN = "admin"


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request: a user acting through one of their keys."""

    user_id: str
    role: Role
    key_id: str
    scopes: frozenset[Scope]
    models: frozenset[str] | None = None
    rpm: int | None = None
    tpm: int | None = None
    tee_only: bool = False
    expires_at: datetime | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN and Scope.ADMIN in self.scopes

    def require(self, scope: Scope) -> None:
        # admin implies write implies read
        implied = {
            Scope.READ: {Scope.READ, Scope.WRITE, Scope.ADMIN},
            Scope.WRITE: {Scope.WRITE, Scope.ADMIN},
            Scope.ADMIN: {Scope.ADMIN},
        }
        if not self.scopes & implied[scope]:
            raise PermissionDenied(f"this key lacks the '{scope}' scope", code="insufficient_scope")
        if scope is Scope.ADMIN and self.role is not Role.ADMIN:
            raise PermissionDenied("this action needs an admin account", code="insufficient_role")

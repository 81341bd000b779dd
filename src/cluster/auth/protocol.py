"""Wire models of the key and user endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from cluster.auth.principal import Role, Scope
from cluster.wire.bounds import INT32, INT64


class KeyCreateRequest(BaseModel):
    name: str = Field("default", min_length=1, max_length=200)
    scopes: list[Scope] = Field(default_factory=lambda: [Scope.READ, Scope.WRITE], min_length=1)
    models: list[str] | None = Field(None, description="allow-list of model ids; None allows all")
    expires_at: datetime | None = None
    expires_in_days: float | None = Field(None, gt=0, le=36_500)
    rpm: int | None = Field(None, ge=1, le=INT32, description="requests/minute override for this key")
    tpm: int | None = Field(None, ge=1, le=INT64, description="tokens/minute override for this key")
    tee_only: bool = Field(False, description="this key's chat requests go only to attested confidential providers")
    user_id: str | None = Field(None, description="admin only: create the key for another user")


class KeyObject(BaseModel):
    id: str
    object: Literal["api_key"] = "api_key"
    name: str
    display: str
    user_id: str
    scopes: list[Scope]
    models: list[str] | None
    rpm: int | None
    tpm: int | None
    tee_only: bool = False
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime


class KeyCreated(KeyObject):
    key: str = Field(description="the key itself: shown once, never stored")


class KeyList(BaseModel):
    object: Literal["list"] = "list"
    data: list[KeyObject]


class UserCreateRequest(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    role: Role = Role.USER


class UserObject(BaseModel):
    id: str
    object: Literal["user"] = "user"
    name: str
    role: Role
    created_at: datetime

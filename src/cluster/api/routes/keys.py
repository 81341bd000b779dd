from __future__ import annotations

from fastapi import APIRouter

from cluster.api.deps import Reader, ServicesDep, Writer
from cluster.auth.protocol import KeyCreated, KeyCreateRequest, KeyList, KeyObject

router = APIRouter(prefix="/v1/keys", tags=["keys"])


@router.post("", response_model=KeyCreated, status_code=201)
async def create_key(body: KeyCreateRequest, caller: Writer, services: ServicesDep) -> KeyCreated:
    """A new key for yourself (or, with an admin key, for ``user_id``). The key is in this response only."""
    return await services.auth.create_key(caller, body)


@router.get("", response_model=KeyList)
async def list_keys(caller: Reader, services: ServicesDep, user_id: str | None = None) -> KeyList:
    return KeyList(data=await services.auth.list_keys(caller, user_id))


@router.delete("/{key_id}", response_model=KeyObject)
async def revoke_key(key_id: str, caller: Writer, services: ServicesDep) -> KeyObject:
    return await services.auth.revoke_key(caller, key_id)

"""API keys: format, storage, scopes, expiry, revocation, allow-lists, and the errors for each."""

import asyncio
import logging
import re
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import Secured

CHAT = "/v1/chat/completions"
BODY = {"model": "mock-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 16}


def error(response) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    return response.status_code, response.json()["error"]["code"]


async def test_keys_are_random_and_stored_only_as_a_keyed_hash(secured: Secured, tmp_path: Path) -> None:
    _, key = await secured.new_user()
    assert re.fullmatch(r"sk-cluster-[A-Za-z0-9_-]{43}", key), "256 bits, url-safe"
    db = sqlite3.connect(tmp_path / "cluster.db")
    dump = "\n".join(db.iterdump())
    assert key not in dump and key[11:] not in dump
    assert len(db.execute("SELECT key_hash FROM api_keys").fetchone()[0]) == 64


async def test_missing_invalid_and_wrong_scheme_are_401(secured: Secured) -> None:
    http = secured.http
    assert error(await http.post(CHAT, json=BODY)) == (401, "missing_api_key")
    assert error(await http.post(CHAT, json=BODY, headers=secured.auth("sk-cluster-" + "a" * 43))) == (
        401,
        "invalid_api_key",
    )
    assert error(await http.post(CHAT, json=BODY, headers={"authorization": f"Basic {secured.admin_key}"}))[0] == 401


async def test_a_key_works_until_it_is_revoked(secured: Secured) -> None:
    _, key = await secured.new_user(credit=10_000_000)
    assert (await secured.http.post(CHAT, json=BODY, headers=secured.auth(key))).status_code == 200
    keys = (await secured.http.get("/v1/keys", headers=secured.auth(key))).json()["data"]
    assert len(keys) == 1 and keys[0]["display"].startswith("sk-cluster-") and "key" not in keys[0]
    revoked = await secured.http.delete(f"/v1/keys/{keys[0]['id']}", headers=secured.auth(key))
    assert revoked.json()["revoked_at"] is not None
    assert error(await secured.http.post(CHAT, json=BODY, headers=secured.auth(key))) == (401, "revoked_api_key")


async def test_an_expired_key_is_refused(secured: Secured) -> None:
    _, key = await secured.new_user(credit=10_000_000, expires_in_days=1.5 / 86400)
    assert (await secured.http.post(CHAT, json=BODY, headers=secured.auth(key))).status_code == 200
    await asyncio.sleep(2.1)  # past expiry, and past the 2 s key cache
    assert error(await secured.http.post(CHAT, json=BODY, headers=secured.auth(key))) == (401, "expired_api_key")


async def test_scopes_are_enforced_with_403(secured: Secured) -> None:
    _, reader = await secured.new_user(credit=10_000_000, scopes=["read"])
    assert error(await secured.http.post(CHAT, json=BODY, headers=secured.auth(reader))) == (403, "insufficient_scope")
    assert (await secured.http.get("/v1/keys", headers=secured.auth(reader))).status_code == 200
    _, writer = await secured.new_user()
    credit = {"user_id": "x", "amount": 1, "idempotency_key": "k"}
    assert error(await secured.http.post("/v1/admin/credit", json=credit, headers=secured.auth(writer)))[0] == 403
    own = await secured.http.post("/v1/keys", json={"scopes": ["admin"]}, headers=secured.auth(writer))
    assert error(own)[0] == 403, "a user cannot mint itself an admin key"


async def test_model_allow_list(secured: Secured) -> None:
    _, key = await secured.new_user(credit=10_000_000, models=["other-model"])
    assert error(await secured.http.post(CHAT, json=BODY, headers=secured.auth(key))) == (403, "model_not_allowed")


async def test_users_see_only_their_own_keys_and_balances(secured: Secured) -> None:
    alice, alice_key = await secured.new_user()
    bob, _ = await secured.new_user()
    assert error(await secured.http.get(f"/v1/keys?user_id={bob}", headers=secured.auth(alice_key)))[0] == 403
    assert error(await secured.http.get(f"/v1/balance?user_id={bob}", headers=secured.auth(alice_key)))[0] == 403
    bob_keys = (await secured.http.get(f"/v1/keys?user_id={bob}", headers=secured.auth())).json()["data"]
    assert error(await secured.http.delete(f"/v1/keys/{bob_keys[0]['id']}", headers=secured.auth(alice_key)))[0] == 404
    assert (await secured.http.get("/v1/users/me", headers=secured.auth(alice_key))).json()["id"] == alice


async def test_key_material_never_reaches_the_logs(secured: Secured, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    _, key = await secured.new_user(credit=1)
    await secured.http.post(CHAT, json=BODY, headers=secured.auth(key))
    await secured.http.post(CHAT, json=BODY, headers=secured.auth(key + "x"))
    assert key not in caplog.text and key[11:30] not in caplog.text


def test_workers_starting_together_agree_on_one_secret(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from cluster.keyfile import load_or_create_secret

    with ThreadPoolExecutor(8) as pool:
        secrets = set(pool.map(lambda _: load_or_create_secret(tmp_path / "key_secret"), range(16)))
    assert len(secrets) == 1 and len(next(iter(secrets))) == 32
    assert (tmp_path / "key_secret").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["key_secret"]


async def test_a_key_cannot_mint_a_broader_key(secured: Secured) -> None:
    _, narrow = await secured.new_user(models=["mock-model"], rpm=5, expires_in_days=1)
    http, auth = secured.http, secured.auth(narrow)
    assert error(await http.post("/v1/keys", json={"models": ["other"]}, headers=auth)) == (403, "permission_denied")
    assert error(await http.post("/v1/keys", json={"rpm": 50}, headers=auth)) == (403, "permission_denied")
    child = (await http.post("/v1/keys", json={"name": "child", "expires_in_days": 30}, headers=auth)).json()
    assert child["models"] == ["mock-model"] and child["rpm"] == 5
    parent = next(k for k in (await http.get("/v1/keys", headers=auth)).json()["data"] if k["name"] != "child")
    assert child["expires_at"] == parent["expires_at"], "no later expiry than the key that made it"

"""A request that cannot reach the database answers 503 with Retry-After (never 500), and the service answers
again once the database is back. PostgreSQL is reached through a proxy the test cuts."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import make_settings, mock_provider, secured_app
from tests.support import CuttableProxy, MockUpstream


async def test_an_unreachable_database_is_a_503_with_retry_after(
    tmp_path: Path, postgres_url: str, mock_upstream: MockUpstream
) -> None:
    proxy = await CuttableProxy(5432).start()
    settings = make_settings(
        tmp_path,
        database_url=postgres_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}"),
        auth={"required": True, "cache_ttl": 0},
        local={"enabled": False},
        providers=[mock_provider("up", mock_upstream)],
    )
    try:
        async for app in secured_app(settings):
            _, key = await app.new_user(credit=1_000_000)
            chat = {"model": "mock-model", "messages": [{"role": "user", "content": "x"}]}
            headers = app.auth(key)
            assert (await app.http.post("/v1/chat/completions", json=chat, headers=headers)).status_code == 200
            await proxy.cut()
            for path in ("/v1/chat/completions", "/v1/keys"):
                response = await app.http.post(path, json=chat if "chat" in path else {}, headers=headers)
                assert response.status_code == 503, response.text
                assert response.headers["retry-after"] == "1"
                assert response.json()["error"]["code"] == "database_unavailable"
            await proxy.restore()
            assert (await app.http.post("/v1/chat/completions", json=chat, headers=headers)).status_code == 200
    finally:
        await proxy.cut()

"""Rate limits: exact N per minute in-process and across processes sharing Redis; headers; Redis down."""

import asyncio
import uuid
from pathlib import Path

import pytest

from cluster.auth.ratelimit import MemoryCounters, RateLimiter, RedisCounters
from cluster.errors import RateLimited, ServiceUnavailable
from tests.conftest import make_settings, mock_provider, secured_app
from tests.support import MockUpstream, away_from_minute_boundary

REDIS = "redis://127.0.0.1:6379/0"
CHAT = "/v1/chat/completions"
BODY = {"model": "mock-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}


async def admitted(limiters: list[RateLimiter], bucket: str, limit: int, attempts: int) -> list[int]:
    """Send ``attempts`` through the limiters in turn, concurrently; how many each admitted."""

    async def one(limiter: RateLimiter) -> bool:
        try:
            await limiter.take(bucket, limit, 1, "requests")
        except RateLimited:
            return False
        return True

    results = await asyncio.gather(*(one(limiters[i % len(limiters)]) for i in range(attempts)))
    return [sum(results[i :: len(limiters)]) for i in range(len(limiters))]


async def test_in_process_limit_admits_exactly_n() -> None:
    away_from_minute_boundary()
    limiter = RateLimiter(MemoryCounters(), fail_open=True)
    assert await admitted([limiter], "key:a", 25, 60) == [25]
    with pytest.raises(RateLimited) as info:
        await limiter.take("key:a", 25, 1, "requests")
    headers = info.value.headers
    assert headers["x-ratelimit-limit-requests"] == "25" and headers["x-ratelimit-remaining-requests"] == "0"
    assert 1 <= int(headers["retry-after"]) <= 60


async def test_two_limiters_sharing_redis_admit_exactly_n() -> None:
    away_from_minute_boundary()
    first = RateLimiter(RedisCounters(REDIS), fail_open=False)
    second = RateLimiter(RedisCounters(REDIS), fail_open=False)
    bucket = f"key:{uuid.uuid4().hex}"
    try:
        counts = await admitted([first, second], bucket, 40, 100)
        assert sum(counts) == 40 and all(counts)
    finally:
        await first.aclose()
        await second.aclose()


async def test_token_windows_reserve_and_true_up() -> None:
    away_from_minute_boundary()
    limiter = RateLimiter(MemoryCounters(), fail_open=True)
    await limiter.take("key:t", 1000, 900, "tokens")
    await limiter.give_back("key:t", -800, "tokens")  # the request used 100 of the 900 it reserved
    window = await limiter.take("key:t", 1000, 850, "tokens")
    assert window is not None and window.remaining == 50


async def test_redis_down_follows_the_policy() -> None:
    dead = "redis://127.0.0.1:1/0"
    open_limiter = RateLimiter(RedisCounters(dead), fail_open=True)
    assert await open_limiter.take("key:x", 1, 1, "requests") is None
    closed = RateLimiter(RedisCounters(dead), fail_open=False)
    with pytest.raises(ServiceUnavailable):
        await closed.take("key:x", 1, 1, "requests")
    await open_limiter.aclose()
    await closed.aclose()


async def test_the_gateway_answers_429_with_headers_and_503_when_redis_is_down(
    tmp_path: Path, mock_upstream: MockUpstream
) -> None:
    away_from_minute_boundary()
    base = {"auth": {"required": True}, "providers": [mock_provider("up", mock_upstream)]}
    settings = make_settings(tmp_path / "a", limits={"key_rpm": 3, "key_tpm": None, "ip_rpm": None}, **base)
    async for gateway in secured_app(settings):
        _, key = await gateway.new_user(credit=10_000_000)
        responses = [await gateway.http.post(CHAT, json=BODY, headers=gateway.auth(key)) for _ in range(4)]
        assert [r.status_code for r in responses] == [200, 200, 200, 429]
        assert responses[1].headers["x-ratelimit-remaining-requests"] == "1"
        assert responses[3].json()["error"]["code"] == "rate_limit_exceeded" and responses[3].headers["retry-after"]

    closed = make_settings(
        tmp_path / "b", redis_url="redis://127.0.0.1:1/0", limits={"fail_open": False, "key_rpm": 5}, **base
    )
    async for gateway in secured_app(closed):
        response = await gateway.http.post(CHAT, json=BODY, headers=gateway.auth())
        assert response.status_code == 503 and response.json()["error"]["code"] == "service_unavailable"


async def test_ip_and_token_limits_through_the_gateway(tmp_path: Path, mock_upstream: MockUpstream) -> None:
    away_from_minute_boundary()
    base = {"auth": {"required": True}, "providers": [mock_provider("up", mock_upstream)]}
    settings = make_settings(tmp_path / "t", limits={"key_rpm": None, "key_tpm": 100, "ip_rpm": None}, **base)
    async for gateway in secured_app(settings):
        _, key = await gateway.new_user(credit=10_000_000)
        statuses = []
        for _ in range(8):  # each reserves its worst case up front, trued up to the 18 it used (10 in, 8 out)
            response = await gateway.http.post(CHAT, json=BODY, headers=gateway.auth(key))
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert response.headers["x-ratelimit-limit-tokens"] == "100"
                break
        assert statuses[:4] == [200] * 4 and statuses[-1] == 429

    ip_limited = make_settings(tmp_path / "i", limits={"ip_rpm": 2, "key_rpm": None, "key_tpm": None}, **base)
    async for gateway in secured_app(ip_limited):
        codes = [(await gateway.http.get("/v1/balance", headers=gateway.auth())).status_code for _ in range(3)]
        assert codes == [200, 200, 429]

"""OpenTelemetry traces, read back with the SDK's in-memory exporter: one root span per request with its
children (auth, limits, routing, each provider attempt, payment authorize and settle), one trace id, answered in
``x-trace-id``; nothing of the prompt in any attribute."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import make_settings, mock_provider, secured_app
from tests.support import MockUpstream

SECRET = "a very private prompt"


async def test_a_request_is_one_trace_with_a_span_per_step(tmp_path: Path, mock_upstream: MockUpstream) -> None:
    settings = make_settings(
        tmp_path,
        auth={"required": True},
        local={"enabled": False},
        tracing={"enabled": True, "exporter": "memory"},
        providers=[mock_provider("up", mock_upstream)],
        models=[{"id": "mock-model", "input_price": 1_000_000, "output_price": 1_000_000}],
    )
    async for app in secured_app(settings):
        _, key = await app.new_user(credit=1_000_000)
        chat = {"model": "mock-model", "messages": [{"role": "user", "content": SECRET}]}
        response = await app.http.post("/v1/chat/completions", json=chat, headers=app.auth(key))
        assert response.status_code == 200
        trace = response.headers["x-trace-id"]
        spans = [s for s in app.app.state.services.tracing.finished() if f"{s.context.trace_id:032x}" == trace]  # type: ignore[attr-defined]
        names = [s.name for s in spans]
        for step in ("auth", "limits", "payment.authorize", "route", "provider.attempt", "payment.settle"):
            assert step in names, names
        root = next(s for s in spans if s.parent is None)
        assert root.name == "POST /v1/chat/completions" and root.attributes  # the route template
        assert root.attributes["http.status_code"] == 200
        assert root.attributes["cluster.request_id"] == response.headers["x-request-id"]
        assert all(s.parent is not None and s.parent.trace_id == root.context.trace_id for s in spans if s is not root)
        attempt = next(s for s in spans if s.name == "provider.attempt")
        assert attempt.attributes and attempt.attributes["provider"] == "up"
        assert SECRET not in repr([dict(s.attributes or {}) for s in spans])


async def test_off_by_default(tmp_path: Path, mock_upstream: MockUpstream) -> None:
    settings = make_settings(tmp_path, local={"enabled": False}, providers=[mock_provider("up", mock_upstream)])
    async for app in secured_app(settings, bootstrap=False):
        response = await app.http.post(
            "/v1/chat/completions", json={"model": "mock-model", "messages": [{"role": "user", "content": "x"}]}
        )
        assert response.status_code == 200 and "x-trace-id" not in response.headers
        assert app.app.state.services.tracing.finished() == ()  # type: ignore[attr-defined]

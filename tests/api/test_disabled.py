"""A switched-off domain answers every one of its endpoints the same way: 404, OpenAI's error shape, code
``feature_disabled``, naming the setting that turns it on — before authentication, so a caller with no key and
an admin get the same answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import Secured, make_settings, secured_app

ENDPOINTS = {
    "chain.enabled": [("GET", "/v1/chain/info"), ("GET", "/v1/chain/datasets/1"), ("GET", "/v1/chain/deposits")],
    "x402.enabled": [("GET", "/x402/supported"), ("POST", "/x402/verify"), ("POST", "/x402/settle")],
    "the marketplace": [
        ("GET", "/v1/datasets"),
        ("POST", "/v1/datasets"),
        ("GET", "/v1/datasets/some-slug/download"),
        ("POST", "/v1/datasets/some-slug/purchase"),
        ("POST", "/v1/wallets"),
        ("GET", "/v1/creators/me/earnings"),
        ("POST", "/v1/admin/royalties/payout"),
    ],
    "finetune.enabled": [
        ("GET", "/v1/fine_tuning/jobs"),
        ("POST", "/v1/fine_tuning/jobs"),
        ("POST", "/v1/fine_tuning/jobs/ftjob-x/cancel"),
        ("POST", "/v1/files"),
        ("GET", "/v1/files/file-x/content"),
    ],
}


@pytest.fixture
async def off(tmp_path: Path) -> AsyncIterator[Secured]:
    settings = make_settings(tmp_path, auth={"required": True}, finetune={"enabled": False})  # chain off too
    async for app in secured_app(settings):
        yield app


@pytest.mark.parametrize("domain", list(ENDPOINTS))
async def test_every_endpoint_of_a_disabled_domain_answers_feature_disabled(off: Secured, domain: str) -> None:
    for method, path in ENDPOINTS[domain]:
        for headers in ({}, off.auth()):
            response = await off.http.request(method, path, headers=headers, json={})
            assert response.status_code == 404, (method, path, response.text)
            error = response.json()["error"]
            assert error["code"] == "feature_disabled" and error["type"] == "invalid_request_error", error
            assert "is disabled on this server (enable it with" in error["message"]


async def test_endpoints_of_enabled_domains_still_answer(off: Secured) -> None:
    assert (await off.http.get("/v1/models")).status_code == 200
    assert (await off.http.get("/v1/users/me", headers=off.auth())).status_code == 200

"""Every page, as a visitor and as an admin: rendered, accessible (axe-core finds nothing serious or critical),
timed (server render and first paint), screenshotted; and the pages with their own flows: verify a receipt of a
private (TEE) response step by step, and the admin's providers and credits."""

from __future__ import annotations

import json
import time

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from playwright.sync_api import Page, expect

from cluster.chain.devchain import dev_address, dev_key
from cluster.marketplace.protocol import link_message
from tests.hub.conftest import PRIVATE_MODEL, SHOTS, Hub, serious_violations, shot

pytestmark = pytest.mark.slow

PUBLIC = ["/", "/models", "/models/smollm2-135m-instruct", "/datasets", "/login"]
SIGNED_IN = ["/dashboard", "/keys", "/usage", "/billing", "/creator", "/purchases", "/fine-tuning", "/receipts",
             "/account", "/admin"]  # fmt: skip


def visit(page: Page, path: str, name: str) -> dict[str, float]:
    """Open ``path``; check it and keep its screenshot; return its server time and first paint (ms)."""
    started = time.perf_counter()
    response = page.goto(path)
    assert response is not None and response.status == 200, path
    page.wait_for_load_state("load")
    timing = page.evaluate(
        """async () => { await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
            const nav = performance.getEntriesByType('navigation')[0];
            const paints = performance.getEntriesByType('paint');
            const paint = paints.find((p) => p.name === 'first-contentful-paint') || paints[0];
            return { server: nav.responseStart - nav.requestStart, paint: paint ? paint.startTime : null,
                     ready: nav.domContentLoadedEventEnd, load: nav.loadEventEnd }; }"""
    )
    timing["wall"] = (time.perf_counter() - started) * 1000
    assert serious_violations(page) == [], path
    shot(page, name)
    return timing  # type: ignore[no-any-return]


def admin_wallet(hub: Hub, account: int) -> None:
    """Link a wallet to the bootstrap admin (the API's own proof), so the admin can sign in with it."""
    issued = int(time.time())
    text = link_message(hub.admin_id, dev_address(account), issued)
    signature = "0x" + bytes(Account.sign_message(encode_defunct(text=text), dev_key(account)).signature).hex()
    body = {"address": dev_address(account), "issued_at": issued, "signature": signature}
    assert hub.api("POST", "/v1/wallets", json=body).status_code == 201


def test_every_page_is_accessible_and_timed(hub: Hub) -> None:
    timings: dict[str, dict[str, float]] = {}
    visitor = hub.context().new_page()
    for path in PUBLIC:
        visit(visitor, path, "public" + path.replace("/", "-").rstrip("-"))  # cold: templates compile
        timings[path] = visit(visitor, path, "public" + path.replace("/", "-").rstrip("-"))

    admin_wallet(hub, 1)
    context = hub.context(hub.wallet(1))
    page = context.new_page()
    hub.wallet_sign_in(page)
    for path in SIGNED_IN:
        visit(page, path, "admin" + path.replace("/", "-"))
        timings[path] = visit(page, path, "admin" + path.replace("/", "-"))
    expect(page.locator("main")).to_contain_text("enclave")  # /admin: the providers' health
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "timings.json").write_text(json.dumps(timings, indent=1))
    for path, timing in timings.items():
        paint = f"{timing['paint']:6.1f} ms" if timing["paint"] else "   (not reported)"
        print(f"{path:30} server {timing['server']:5.1f} ms, DOM ready {timing['ready']:6.1f} ms, "
              f"load {timing['load']:6.1f} ms, first paint {paint}")  # fmt: skip
    context.close()


def test_a_private_responses_receipt_is_verified_step_by_step(hub: Hub) -> None:
    context = hub.context(hub.wallet(2))
    page = context.new_page()
    hub.wallet_sign_in(page)
    hub.credit(page, 1_000_000)
    csrf = page.locator("body").get_attribute("data-csrf") or ""
    body = {"model": PRIVATE_MODEL, "messages": [{"role": "user", "content": "Say hi"}], "max_tokens": 4}
    answer = page.request.post(
        "/v1/chat/completions", data=body, headers={"x-csrf-token": csrf, "x-cluster-tee": "required"}
    )
    assert answer.status == 200, answer.text()
    receipt = answer.headers["x-cluster-receipt-id"]

    page.goto("/receipts")
    row = page.locator("tr", has_text=receipt)
    row.get_by_role("button", name="Verify").click()
    expect(row.locator(".verdict")).to_have_text("Not verified")  # a simulated enclave proves nothing by default
    expect(row.locator(".steps .failed")).to_contain_text("simulated")
    row.get_by_label("accept a simulated enclave").check()
    row.get_by_role("button", name="Verify").click()
    expect(row.locator(".verdict")).to_have_text("Verified (a simulated enclave: no hardware proof)")
    steps = row.locator(".steps li.ok").all_inner_texts()
    assert steps[0] == "attestation_digest" and steps[-1] == "signature" and "registry" in steps
    shot(page, "receipt-verified")

    page.goto("/admin")  # not an admin: refused, as a page
    expect(page.get_by_role("heading", level=1)).to_have_text("403: insufficient_role")
    context.close()

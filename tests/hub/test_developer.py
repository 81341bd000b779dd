"""A developer's flows in the browser: sign in with a wallet, create a key (its secret shown once), call a model
with the official ``openai`` client, see the calls in usage (table exact, chart painted), revoke the key and see
the next call refused; deposit USDC from the wallet and see the balance."""

from __future__ import annotations

import re

import openai
import pytest
from playwright.sync_api import expect

from tests.hub.conftest import Hub, painted, reload_until, shot

pytestmark = pytest.mark.slow


def test_wallet_sign_in_key_usage_and_revoke(hub: Hub) -> None:
    wallet = hub.wallet(5)
    context = hub.context(wallet)
    page = context.new_page()
    hub.wallet_sign_in(page)
    expect(page.locator("#account")).to_have_text(f"{wallet.address.lower()[:6]}…{wallet.address.lower()[-4:]}")
    hub.credit(page, 2_000_000)
    page.reload()
    expect(page.locator("#balance")).to_have_text("2 USDC")
    shot(page, "dashboard")

    page.goto("/keys")
    page.get_by_label("Name").fill("notebook")
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("#secret").inner_text()
    assert re.fullmatch(r"sk-cluster-[A-Za-z0-9_-]{43}", secret)
    shot(page, "keys-created")
    page.get_by_label("Name").fill("agent")
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#new-key h2")).to_contain_text("agent")  # the swap happened: this secret is the new one
    other = page.locator("#secret").inner_text()
    assert other != secret
    page.reload()
    expect(page.locator("#key-rows")).to_contain_text("notebook")
    assert secret not in page.content() and other not in page.content()  # shown once: only hashes are kept

    client = openai.OpenAI(base_url=f"{hub.url}/v1", api_key=secret, max_retries=0)
    second = openai.OpenAI(base_url=f"{hub.url}/v1", api_key=other, max_retries=0)
    replies = [
        caller.chat.completions.create(
            model="smollm2-135m-instruct", messages=[{"role": "user", "content": f"Name a color {i}."}], max_tokens=4
        )
        for i, caller in enumerate([client, client, second])
    ]
    tokens = sum(r.usage.prompt_tokens + r.usage.completion_tokens for r in replies if r.usage)

    # per key: one row each, with each key's own calls; per model: one row with the exact sum over both keys
    reload_until(page, "/usage?by=key", "#total-calls", "3")
    calls = sorted(page.locator("#usage-table tbody tr .calls").all_inner_texts())
    assert calls == ["1", "2"]
    page.goto("/usage?by=model")
    expect(page.locator("#total-tokens")).to_have_text(str(tokens))
    rows = page.locator("#usage-table tbody tr")
    expect(rows).to_have_count(1)
    assert rows.first.locator(".calls").inner_text() == "3"
    prompt = sum(r.usage.prompt_tokens for r in replies if r.usage)
    assert rows.first.locator(".prompt").inner_text() == str(prompt)
    page.wait_for_function("() => document.querySelector('#calls-chart').chart !== undefined")
    assert painted(page, "#calls-chart") > 1000 and painted(page, "#tokens-chart") > 1000
    shot(page, "usage")
    csv = page.request.get("/usage.csv?by=model").text()
    assert csv.splitlines()[1].endswith(f",3,0,{prompt},{tokens - prompt},{int(csv.splitlines()[1].split(',')[-1])}")

    page.goto("/keys")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke notebook").click()
    expect(page.locator("#key-rows")).to_contain_text("revoked")
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="smollm2-135m-instruct", messages=[{"role": "user", "content": "Hi"}])
    context.close()


def test_deposit_from_the_wallet(hub: Hub) -> None:
    wallet = hub.wallet(6)
    context = hub.context(wallet)
    page = context.new_page()
    hub.wallet_sign_in(page)
    page.goto("/billing")
    expect(page.locator("#balance")).to_have_text("0 USDC")
    page.get_by_label("Amount (USDC)").fill("5.25")
    page.get_by_role("button", name="Deposit with my wallet").click()
    expect(page.locator("#deposit-status")).to_contain_text("Deposited", timeout=30_000)
    expect(page.locator("#balance")).to_have_text("5.25 USDC", timeout=30_000)
    expect(page.locator("#deposit-rows td").nth(1)).to_have_text("5.25 USDC")  # the amount, read as USDC
    assert len(wallet.sent) == 2  # approve, deposit
    shot(page, "billing")
    context.close()

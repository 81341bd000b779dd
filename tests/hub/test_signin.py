"""Signing in, in the browser and on the wire: email links, wallets (SIWE), one account with both, signing out;
and what must be refused: a message for another domain or chain, a replayed nonce, another wallet's signature,
another site's sign-in post, a state change by cookie without its CSRF token."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from playwright.sync_api import expect

from cluster.auth.sessions import COOKIE
from cluster.chain.devchain import dev_address, dev_key
from tests.hub.conftest import Hub, shot

pytestmark = pytest.mark.slow


def sign(text: str, account: int) -> str:
    return "0x" + bytes(Account.sign_message(encode_defunct(text=text), dev_key(account)).signature).hex()


def siwe_message(hub: Hub, account: int) -> str:
    answer = httpx.get(f"{hub.url}/auth/siwe/message", params={"address": dev_address(account)})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["message"])


def post_siwe(hub: Hub, message: str, signature: str, **headers: str) -> httpx.Response:
    return httpx.post(f"{hub.url}/auth/siwe", json={"message": message, "signature": signature}, headers=headers)


def test_email_then_wallet_is_one_account(hub: Hub) -> None:
    wallet = hub.wallet(7)
    context = hub.context(wallet)
    page = context.new_page()
    hub.email_sign_in(page, "Ada@Example.org")
    expect(page.locator("#account")).to_have_text("ada@example.org")
    user_id = page.request.get("/v1/users/me").json()["id"]

    page.goto("/login")  # signed in: the wallet is linked to this account (the same proof as POST /v1/wallets)
    page.get_by_role("button", name="Link a wallet").click()
    page.wait_for_url("**/dashboard")
    page.goto("/account")
    identities = page.locator("#identities")
    expect(identities).to_contain_text("ada@example.org")
    expect(identities).to_contain_text(wallet.address.lower())
    assert page.request.get("/v1/wallets").json() == [wallet.address.lower()]
    shot(page, "account")

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r".*/$"))
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    assert page.request.get("/v1/users/me").status == 401
    hub.wallet_sign_in(page)  # the wallet alone now reaches the same account
    assert page.request.get("/v1/users/me").json()["id"] == user_id
    context.close()


def test_a_link_is_used_once_and_a_signature_must_be_the_wallets(hub: Hub) -> None:
    context = hub.context(hub.wallet(8, signer=9))  # a wallet that signs with another key
    page = context.new_page()
    page.goto("/login")
    page.get_by_role("button", name="Sign in with a wallet").click()
    expect(page.locator("#wallet-status")).to_contain_text("Sign-in failed: the signature is not from that wallet")
    shot(page, "sign-in-refused")

    link = hub.email_sign_in(page, "grace@example.org")
    token = parse_qs(urlsplit(link).query)["token"][0]
    again = page.request.post("/auth/email/callback", form={"token": token}, headers={"origin": hub.url})
    assert again.status == 401 and again.json()["error"]["code"] == "link_used"
    forged = page.request.post("/auth/email/callback", form={"token": token[:-3] + "abc"}, headers={"origin": hub.url})
    assert forged.status == 401 and forged.json()["error"]["code"] == "link_invalid"

    # a link works only in the browser that asked for it: one asked for elsewhere (an attacker's, sent to you;
    # or one for your own account opened on another machine) signs nobody in and links nothing
    elsewhere = hub.context().new_page()
    hub.email_sign_in(elsewhere, "mallory@example.org")  # signs mallory in there
    elsewhere.goto("/login")
    elsewhere.get_by_label("Email address").fill("mallory2@example.org")
    elsewhere.get_by_role("button", name="Email me a sign-in link").click()
    elsewhere.get_by_text("A sign-in link is on its way").wait_for()
    sent = next(line for line in hub.mail()[-1].body.splitlines() if line.startswith("http"))
    page.goto(sent)  # grace, signed in, opens mallory's link
    page.get_by_role("button", name=re.compile("^Continue")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("401: link_browser")
    page.goto("/account")
    expect(page.locator("#identities")).not_to_contain_text("mallory")
    context.close()


def test_siwe_refuses_other_domains_chains_replays_and_sites(hub: Hub) -> None:
    # a message naming a phishing site (its wallet prompt shows that site), signed by the user, replayed here
    host = hub.url.split("://", 1)[1]
    phished = siwe_message(hub, 1).replace(f"{host} wants you", "cluster.evil.example wants you")
    refused = post_siwe(hub, phished, sign(phished, 1))
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "siwe_domain"
    # nor does a Host header choose the domain: off loopback, sign-in needs hub.public_url
    for path in ("/auth/siwe/message?address=" + dev_address(1), "/auth/email"):
        forged = httpx.request(
            "GET" if "siwe" in path else "POST", hub.url + path, headers={"host": "cluster.evil.example"},
            data=None if "siwe" in path else {"email": "victim@example.org"},
        )  # fmt: skip
        assert forged.status_code == 403 and forged.json()["error"]["code"] == "public_url_required", forged.text

    message = siwe_message(hub, 1)
    other_chain = message.replace("Chain ID: 31337", "Chain ID: 8453")
    assert other_chain != message
    refused = post_siwe(hub, other_chain, sign(other_chain, 1))
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "siwe_chain"

    signature = sign(message, 1)
    cross_site = post_siwe(hub, message, signature, origin="https://cluster.evil.example")
    assert cross_site.status_code == 403 and cross_site.json()["error"]["code"] == "csrf_failed"
    accepted = post_siwe(hub, message, signature)
    assert accepted.status_code == 200 and accepted.cookies.get(COOKIE)
    token = accepted.cookies[COOKIE]  # an agent uses the session as a bearer token, without any API key
    me = httpx.get(f"{hub.url}/v1/users/me", headers={"authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["id"] == accepted.json()["user_id"]
    replayed = post_siwe(hub, message, signature)
    assert replayed.status_code == 401 and replayed.json()["error"]["code"] == "siwe_nonce"

    garbage = post_siwe(hub, "hello", signature)
    assert garbage.status_code == 400 and garbage.json()["error"]["param"] == "message"


def test_a_cookie_changes_nothing_without_its_csrf_token(hub: Hub) -> None:
    message = siwe_message(hub, 2)
    signed_in = post_siwe(hub, message, sign(message, 2))
    cookies = {COOKIE: signed_in.cookies[COOKIE]}
    page = httpx.get(f"{hub.url}/keys", cookies=cookies)
    csrf = re.search(r'data-csrf="([^"]+)"', page.text)
    assert page.status_code == 200 and csrf

    with httpx.Client(base_url=hub.url, cookies=cookies) as browser:
        assert browser.get("/v1/users/me").status_code == 200  # reads need no token
        for path, body in (("/keys", {"data": {"name": "x"}}), ("/v1/keys", {"json": {"name": "x"}})):
            refused = browser.post(path, **body)  # type: ignore[arg-type]
            assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed", refused.text
        token = {"x-csrf-token": csrf.group(1)}
        created = browser.post("/v1/keys", json={"name": "x"}, headers=token)
        assert created.status_code == 201, created.text
        bad = browser.post("/keys", data={"name": "x", "rpm": "0"}, headers=token)  # a form, refused as such
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "rpm", bad.text
        chat = {"model": "smollm2-135m-instruct", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}
        assert browser.post("/v1/chat/completions", json=chat).status_code == 403
        out = browser.post("/logout", data={"csrf": "wrong"}, follow_redirects=False)
        assert out.status_code == 403
    with httpx.Client(base_url=hub.url) as stranger:  # after sign-in, ?next= never leaves this site
        for elsewhere in ("//evil.example/x", "/\\evil.example", "/\t/evil.example", "https://evil.example"):
            assert 'data-next="/dashboard"' in stranger.get("/login", params={"next": elsewhere}).text, elsewhere
        assert 'data-next="/usage?by=key"' in stranger.get("/login", params={"next": "/usage?by=key"}).text

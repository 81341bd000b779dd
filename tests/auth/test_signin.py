"""Sign-in without a key, below the browser: links and SIWE messages expire, sign-in attempts are rate-limited,
and the SMTP mailer delivers the link intact (an in-process aiosmtpd sink)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from eth_account import Account
from eth_account.messages import encode_defunct

from cluster.app import create_app
from cluster.auth.mail import Mail, SmtpMailer
from cluster.chain.devchain import dev_address, dev_key
from cluster.errors import Unauthorized
from cluster.settings.accounts import SmtpSettings
from tests.conftest import make_settings
from tests.support import free_port


async def test_links_and_siwe_messages_expire(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, hub={"mailer": "memory", "link_ttl": 1, "siwe_ttl": 1}))
    async with app.router.lifespan_context(app):
        signin = app.state.services.signin
        await signin.send_link("Ada@Example.org", "http://cluster.test/auth/email/callback", "browser-1")
        mail = signin.mailer.sent[-1]
        assert mail.recipient == "ada@example.org" and "valid for 1 second, once" in mail.body
        token = re.search(r"token=([^&\s]+)", mail.body).group(1)  # type: ignore[union-attr]
        message = await signin.siwe_message(dev_address(1), "cluster.test", "http://cluster.test")
        signature = "0x" + bytes(Account.sign_message(encode_defunct(text=message), dev_key(1)).signature).hex()
        await asyncio.sleep(2.1)
        with pytest.raises(Unauthorized) as expired:
            await signin.redeem_link(token, None, "browser-1")
        assert expired.value.code == "link_expired"
        with pytest.raises(Unauthorized) as late:
            await signin.siwe_verify(message, signature, "cluster.test")
        assert late.value.code == "siwe_expired"


async def test_sign_in_attempts_are_rate_limited(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, hub={"mailer": "memory", "login_rpm": 2, "public_url": "http://cluster"}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cluster") as http:
            form = {"email": "eve@example.org"}
            answers = [(await http.post("/auth/email", data=form)).status_code for _ in range(3)]
            assert answers == [200, 200, 429]
            assert len(app.state.services.signin.mailer.sent) == 2


async def test_the_smtp_mailer_delivers_the_link_intact() -> None:
    received: list[Any] = []

    class Sink:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd calls it by this name
            received.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
            return "250 OK"

    port = free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        link = "http://cluster.test/auth/email/callback?token=" + "x" * 200  # longer than a quoted-printable line
        mailer = SmtpMailer(SmtpSettings(host="127.0.0.1", port=port, starttls=False, sender="hub@cluster.test"))
        await mailer.send(Mail("ada@example.org", "Your Cluster sign-in link", f"Open:\n\n{link}\n"))
    finally:
        controller.stop()
    assert len(received) == 1 and received[0]["To"] == "ada@example.org"
    assert link in received[0].get_content()


async def test_a_session_is_read_once_per_ttl_and_signing_out_is_at_once(tmp_path: Path) -> None:
    """A page asks who is signed in three times per request: the database is asked once per cache TTL; signing
    out in this process is seen at once."""
    from sqlalchemy import update

    from cluster.auth.identities import Identity
    from cluster.auth.models import WebSession
    from cluster.auth.times import utcnow

    app = create_app(make_settings(tmp_path, auth={"cache_ttl": 60.0}))
    async with app.router.lifespan_context(app):
        services = app.state.services
        session = await services.signin.open_session(Identity("email", "ada@example.org"))
        sessions = services.auth.sessions
        assert await sessions.find(session.token, utcnow())
        async with services.engine.begin() as connection:  # revoked behind its back (another process)
            await connection.execute(update(WebSession).values(revoked_at=utcnow()))
        assert await sessions.find(session.token, utcnow()), "served from the cache within the TTL"
        other = await services.signin.open_session(Identity("email", "bob@example.org"))
        assert await sessions.find(other.token, utcnow())  # cached
        await sessions.close(other.token, utcnow())
        assert await sessions.find(other.token, utcnow()) is None  # signed out here: at once

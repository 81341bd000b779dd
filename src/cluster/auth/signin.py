"""Signing in without an API key: Sign-In with Ethereum (EIP-4361) and email links; each ends in a session.

SIWE: the server writes the whole message (domain = the host the browser is on, its URI, the chain id, a
single-use nonce, issued-at and expiry), the wallet only signs it (``personal_sign``), and the signature is
checked by ``siwe`` (PyPI ``signinwithethereum``; with the chain's RPC it also accepts ERC-1271/6492 smart
wallets). A nonce is consumed in one conditional UPDATE, so a message is good for one sign-in across replicas.

Email: a link whose token is signed (itsdangerous, timed) and names a single-use nonce; opening it proves the
address. Both flows are rate-limited by the caller (the Hub's routes, through the shared rate limiter).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

import siwe  # type: ignore[import-untyped]  # PyPI signinwithethereum: no type marker
from eth_utils.address import to_checksum_address
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, insert, update
from sqlalchemy.ext.asyncio import AsyncEngine
from web3 import HTTPProvider

from cluster.auth.identities import Identities, Identity
from cluster.auth.mail import Mail, Mailer
from cluster.auth.models import LoginNonce, OutboxMail, WebSession
from cluster.auth.sessions import Session, WebSessions
from cluster.auth.times import utcnow
from cluster.errors import InvalidRequest, ServiceUnavailable, Unauthorized
from cluster.settings.accounts import HubSettings

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
STATEMENT = "Sign in to Cluster."


@dataclass(frozen=True, slots=True)
class SignInLink:
    email: str
    nonce: str
    link_to: str | None  # asked for while signed in: adds the address to this account
    browser: str  # digest of the asking browser's binding cookie


class SignIn:
    def __init__(
        self,
        engine: AsyncEngine,
        identities: Identities,
        sessions: WebSessions,
        mailer: Mailer,
        settings: HubSettings,
        secret: bytes,
        chain_id: int,
        rpc_url: str | None,
    ) -> None:
        self._engine = engine
        self.identities = identities
        self.sessions = sessions
        self.mailer = mailer
        self._settings = settings
        self._links = URLSafeTimedSerializer(secret, salt="cluster-sign-in-link")
        self.chain_id = chain_id
        self._provider = HTTPProvider(rpc_url) if rpc_url else None

    # -- sessions -------------------------------------------------------------------------------------
    async def open_session(self, identity: Identity, signed_in_as: str | None = None) -> Session:
        """A session for ``identity``'s account; signed in already, the identity is linked to that account."""
        if signed_in_as is not None:
            await self.identities.link(signed_in_as, identity)
            user_id = signed_in_as
        else:
            user_id = await self.identities.sign_in(identity)
        return await self.sessions.open(user_id, identity.via, utcnow())

    # -- Sign-In with Ethereum --------------------------------------------------------------------------
    async def siwe_message(self, address: str, domain: str, uri: str) -> str:
        if not ADDRESS.match(address):
            raise InvalidRequest("address must be a 0x-prefixed 20-byte hex address", param="address")
        now = utcnow()
        nonce = await self._issue("siwe", address.lower(), now, self._settings.siwe_ttl)
        message = siwe.SiweMessage(
            domain=domain,
            address=_checksum(address),
            statement=STATEMENT,
            uri=uri,
            version="1",
            chain_id=self.chain_id,
            nonce=nonce,
            issued_at=_iso(now),
            expiration_time=_iso(now + timedelta(seconds=self._settings.siwe_ttl)),
        )
        return str(message.prepare_message())

    async def siwe_verify(self, text: str, signature: str, domain: str) -> Identity:
        """The wallet that signed ``text``, if the message is ours, for ``domain``, unexpired and not used."""
        try:
            message = siwe.SiweMessage.from_message(text)
        except Exception:
            raise InvalidRequest("not a Sign-In with Ethereum message", param="message") from None
        try:
            await asyncio.to_thread(
                message.verify, signature, domain=domain, chain_id=self.chain_id, provider=self._provider
            )
        except siwe.DomainMismatch:
            raise Unauthorized(f"this message is for {message.domain}, not {domain}", code="siwe_domain") from None
        except siwe.ChainIdMismatch:
            raise Unauthorized(f"this message is for chain {message.chain_id}", code="siwe_chain") from None
        except siwe.ExpiredMessage:
            raise Unauthorized("this sign-in message has expired: sign a new one", code="siwe_expired") from None
        except siwe.VerificationError:
            raise Unauthorized("the signature is not from that wallet", code="invalid_signature") from None
        except Exception as failure:  # the chain, asked about a smart wallet, did not answer
            raise ServiceUnavailable(f"the wallet's signature could not be checked: {failure}") from None
        address = message.address.lower()
        if not await self._consume("siwe", message.nonce, address):
            raise Unauthorized("this sign-in message was already used or is not ours", code="siwe_nonce")
        return Identity("wallet", address)

    # -- email links ----------------------------------------------------------------------------------
    async def send_link(
        self, email: str, link_base: str, browser: str, link_to: str | None = None, next: str = "/dashboard"
    ) -> None:
        """Mail a sign-in link. ``link_to``: asked for while signed in, so opening it adds the address to that
        account, and only in a session of that account (a link someone else asked for, opened in your signed-in
        browser, must never join their address to your account). ``browser``: the value of a cookie set in the
        browser that asked (see ``browser_binding``): the link works only there, so a link that reached someone
        else (a forwarded mail, a link an attacker asked for and sent you) signs nobody in."""
        address = email.strip().lower()
        if not EMAIL.match(address) or len(address) > 320:
            raise InvalidRequest("that is not an email address", param="email")
        nonce = await self._issue("email", address, utcnow(), self._settings.link_ttl)
        claims = {"email": address, "nonce": nonce, "link_to": link_to, "browser": _digest(browser)}
        token = self._links.dumps(claims)
        body = (
            f"Open this link to sign in to Cluster (valid for {self.link_lifetime}, once):\n\n"
            f"{link_base}?{urlencode({'token': token, 'next': next})}\n\nIf you did not ask for it, ignore this mail."
        )
        await self.mailer.send(Mail(address, "Your Cluster sign-in link", body))

    @property
    def link_lifetime(self) -> str:
        """How long a link lasts, in words ("15 minutes")."""
        seconds = round(self._settings.link_ttl)
        count, unit = (seconds // 60, "minute") if seconds >= 120 else (seconds, "second")
        return f"{count} {unit}{'' if count == 1 else 's'}"

    def read_link(self, token: str) -> SignInLink:
        """What a link says, checked but not spent (the confirmation page shows it)."""
        try:
            claims = self._links.loads(token, max_age=int(self._settings.link_ttl))
        except SignatureExpired:
            raise Unauthorized("this sign-in link has expired: ask for a new one", code="link_expired") from None
        except BadSignature:
            raise Unauthorized("this sign-in link is not valid", code="link_invalid") from None
        link_to = claims.get("link_to")
        return SignInLink(
            str(claims["email"]), str(claims["nonce"]), str(link_to) if link_to else None, str(claims["browser"])
        )

    async def redeem_link(self, token: str, signed_in_as: str | None, browser: str | None) -> Session:
        """Spend a link, in the browser that asked for it: a session of the address's account, or (a link asked
        for to add the address) of the account it was asked for, which must be the one signed in now. Every check
        comes before the link is spent, so a refusal leaves it usable where it belongs."""
        link = self.read_link(token)
        if browser is None or not hmac.compare_digest(_digest(browser), link.browser):
            raise Unauthorized(
                "open this link in the browser where you asked for it (links work only there)", code="link_browser"
            )
        if link.link_to is not None and link.link_to != signed_in_as:
            raise Unauthorized(
                "this link adds an address to the account that asked for it: open it where you are signed in to it",
                code="link_other_account",
            )
        if not await self._consume("email", link.nonce, link.email):
            raise Unauthorized("this sign-in link was already used", code="link_used")
        return await self.open_session(Identity("email", link.email), link.link_to)

    # -- single-use nonces ----------------------------------------------------------------------------
    async def _issue(self, purpose: str, subject: str, now: datetime, ttl: float) -> str:
        nonce = secrets.token_hex(16)  # alphanumeric, as EIP-4361 requires
        async with self._engine.begin() as connection:
            await connection.execute(
                insert(LoginNonce).values(
                    nonce=nonce, purpose=purpose, subject=subject, expires_at=now + timedelta(seconds=ttl)
                )
            )
        return nonce

    async def _consume(self, purpose: str, nonce: str, subject: str) -> bool:
        now = utcnow()
        async with self._engine.begin() as connection:
            used = await connection.execute(
                update(LoginNonce)
                .where(
                    LoginNonce.nonce == nonce,
                    LoginNonce.purpose == purpose,
                    LoginNonce.subject == subject,
                    LoginNonce.used_at.is_(None),
                    LoginNonce.expires_at > now,
                )
                .values(used_at=now)
            )
        return used.rowcount == 1

    async def sweep(self) -> None:
        """Forget what can sign nobody in any more: nonces and sessions a day past their expiry (used, signed
        out or not), and outbox mail older than a week."""
        day_ago = utcnow() - timedelta(days=1)
        async with self._engine.begin() as connection:
            await connection.execute(delete(LoginNonce).where(LoginNonce.expires_at < day_ago))
            await connection.execute(delete(WebSession).where(WebSession.expires_at < day_ago))
            await connection.execute(delete(OutboxMail).where(OutboxMail.created_at < utcnow() - timedelta(days=7)))


def browser_binding() -> str:
    """A fresh value for the cookie that ties a sign-in link to the browser that asked for it."""
    return secrets.token_urlsafe(24)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _checksum(address: str) -> str:
    return str(to_checksum_address(address))


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

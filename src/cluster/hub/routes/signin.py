"""Sign-in pages: the wallet (SIWE) and email-link flows, linking identities, signing out, the outbox."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, RedirectResponse, Response

from cluster.auth.mail import OutboxMailer
from cluster.auth.sessions import COOKIE, Session
from cluster.auth.signin import browser_binding
from cluster.auth.times import utcnow
from cluster.errors import NotFound, PermissionDenied
from cluster.hub.web import HubRoute, ServicesDep, SignInRequired, VisitorDep, page
from cluster.services import Services

router = APIRouter(route_class=HubRoute, include_in_schema=False)


class SiweProof(BaseModel):
    message: str = Field(max_length=4000)
    signature: str = Field(max_length=1000)
    next: str = "/dashboard"


LINK_COOKIE = "cluster_link"  # ties a sign-in link to the browser that asked for it
_LOCAL_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$")


def _safe_next(target: str | None) -> str:
    r"""Only a plain path on this site: no scheme or host, no ``//``, ``/\`` or control characters (which
    browsers read as another host): an open redirect after sign-in would phish."""
    if target and _LOCAL_PATH.match(target) and not target.startswith("//"):
        return target
    return "/dashboard"


LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _origin(url: str) -> str:
    """``scheme://host[:port]``, lower-case, without the scheme's default port (how browsers send Origin)."""
    parts = urlsplit(url.lower())
    default = {"http": 80, "https": 443}.get(parts.scheme)
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def _site(services: Services, request: Request) -> tuple[str, str]:
    """(origin, host) of the Hub: ``hub.public_url``, never a Host header a client chose (a link mailed to
    evil.example, a SIWE message naming a phishing site). Without it, only a loopback host is taken from the
    request (development on one machine, where nobody else can be sent there)."""
    public = services.settings.hub.public_url
    if public is None and request.url.hostname not in LOOPBACK:
        raise PermissionDenied(
            "sign-in needs hub.public_url (the address users reach this server at) when it is not on loopback",
            code="public_url_required",
        )
    origin = _origin(public or str(request.base_url))
    return origin, origin.split("://", 1)[1]


def _same_origin(services: Services, request: Request) -> None:
    """Sign-in posts come before any session (so no CSRF token yet): refuse another site's page posting them
    (browsers always send Origin on a cross-site POST; a client without one is not a victim's browser)."""
    sent = request.headers.get("origin")
    if sent is not None and _origin(sent) != _site(services, request)[0]:
        raise PermissionDenied("a sign-in must come from this site's own page", code="csrf_failed")


async def _login_limit(services: Services, request: Request, *subjects: str) -> None:
    rpm = services.settings.hub.login_rpm
    client = request.client.host if request.client else "unknown"
    subjects = (f"ip:{client}", *subjects)
    takes: list[tuple[str, int | None, int, str]] = [(f"login:{s}", rpm, 1, "requests") for s in subjects]
    await services.limiter.take_all(takes)


def _with_cookie(response: Response, session: Session, services: Services, request: Request) -> Response:
    assert session.token is not None
    secure = _secure(services, request)
    ttl = int(services.settings.hub.session_ttl)
    response.set_cookie(COOKIE, session.token, max_age=ttl, httponly=True, samesite="lax", secure=secure, path="/")
    return response


def _secure(services: Services, request: Request) -> bool:
    configured = services.settings.hub.secure_cookies
    return configured if configured is not None else _site(services, request)[0].startswith("https://")


@router.get("/login")
async def login(request: Request, who: VisitorDep, next: str | None = None) -> Response:
    return page(request, "login.html", who, next=_safe_next(next))


@router.get("/auth/siwe/message")
async def siwe_message(request: Request, services: ServicesDep, address: str = Query(max_length=42)) -> JSONResponse:
    """The whole EIP-4361 message for the wallet to sign, naming this site."""
    _same_origin(services, request)
    await _login_limit(services, request)
    origin, host = _site(services, request)
    text = await services.signin.siwe_message(address, host, origin)
    return JSONResponse({"message": text, "chain_id": services.signin.chain_id})


@router.post("/auth/siwe")
async def siwe_sign_in(request: Request, proof: SiweProof, services: ServicesDep, who: VisitorDep) -> Response:
    _same_origin(services, request)
    await _login_limit(services, request)
    identity = await services.signin.siwe_verify(proof.message, proof.signature, _site(services, request)[1])
    session = await services.signin.open_session(identity, who.user_id)
    body = {"address": identity.address, "user_id": session.user_id, "next": _safe_next(proof.next)}
    return _with_cookie(JSONResponse(body), session, services, request)


@router.post("/auth/email")
async def email_link(
    request: Request,
    services: ServicesDep,
    who: VisitorDep,
    email: Annotated[str, Form(max_length=320)],
    next: Annotated[str, Form(max_length=400)] = "/dashboard",
) -> Response:
    _same_origin(services, request)
    await _login_limit(services, request, f"email:{email.strip().lower()}")
    browser = request.cookies.get(LINK_COOKIE) or browser_binding()
    base = _site(services, request)[0] + CALLBACK
    await services.signin.send_link(email, base, browser, who.user_id, _safe_next(next))
    hub = services.settings.hub
    context = {"email": email, "lifetime": services.signin.link_lifetime, "outbox": hub.mailer == "outbox"}
    response = page(request, "email_sent.html", who, **context)
    response.set_cookie(
        LINK_COOKIE,
        browser,
        max_age=int(hub.link_ttl),
        httponly=True,
        samesite="lax",
        secure=_secure(services, request),
    )
    return response


CALLBACK = "/auth/email/callback"


@router.get(CALLBACK)
async def email_link_page(
    request: Request,
    services: ServicesDep,
    who: VisitorDep,
    token: str = Query(max_length=1000),
    next: str | None = Query(None, max_length=400),
) -> Response:
    """Opening the link only shows a button: mail scanners fetch links, and a GET that signed in would spend
    the link before its owner clicks it."""
    link = services.signin.read_link(token)
    return page(request, "email_confirm.html", who, token=token, link=link, next=_safe_next(next))


@router.post(CALLBACK)
async def email_callback(
    request: Request,
    services: ServicesDep,
    who: VisitorDep,
    token: Annotated[str, Form(max_length=1000)],
    next: Annotated[str, Form(max_length=400)] = "/dashboard",
) -> Response:
    _same_origin(services, request)
    await _login_limit(services, request)
    session = await services.signin.redeem_link(token, who.user_id, request.cookies.get(LINK_COOKIE))
    return _with_cookie(RedirectResponse(_safe_next(next), status_code=303), session, services, request)


@router.post("/logout")
async def logout(
    request: Request, services: ServicesDep, who: VisitorDep, csrf: Annotated[str, Form()] = ""
) -> Response:
    token = request.cookies.get(COOKIE)
    if token is not None and who.session is not None:
        if not await services.auth.sessions.csrf_ok(token, csrf, utcnow()):
            raise PermissionDenied("sign out from the Hub's own page", code="csrf_failed")
        await services.auth.sessions.close(token, utcnow())
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/account")
async def account(request: Request, services: ServicesDep, who: VisitorDep) -> Response:
    if who.user_id is None:
        raise SignInRequired
    user = await services.auth.get_user(who.user_id)
    identities = await services.signin.identities.of(who.user_id)
    return page(request, "account.html", who, user=user, identities=identities)


@router.get("/dev/outbox")
async def outbox(request: Request, services: ServicesDep, who: VisitorDep) -> Response:
    """Admins only (the mail holds live sign-in links); the machine's operator reads it with `cluster outbox`."""
    mailer = services.signin.mailer
    if not who.is_admin:
        raise PermissionDenied("the development outbox is for admins: on the server, run `cluster outbox`")
    if not isinstance(mailer, OutboxMailer):
        raise NotFound("this server sends its mail (hub.mailer is not `outbox`)")
    return page(request, "outbox.html", who, mails=await mailer.recent())

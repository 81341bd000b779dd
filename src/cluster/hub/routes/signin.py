"""Sign-in pages: the wallet (SIWE) and email-link flows, linking identities, signing out, the outbox."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, RedirectResponse, Response

from cluster.auth.mail import OutboxMailer
from cluster.auth.sessions import COOKIE, Session
from cluster.auth.times import utcnow
from cluster.errors import NotFound, PermissionDenied
from cluster.hub.web import HubRoute, ServicesDep, SignInRequired, VisitorDep, page
from cluster.services import Services

router = APIRouter(route_class=HubRoute, include_in_schema=False)


class SiweProof(BaseModel):
    message: str = Field(max_length=4000)
    signature: str = Field(max_length=1000)
    next: str = "/dashboard"


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never //evil.example or https://…): an open redirect would phish."""
    return target if target and target.startswith("/") and not target.startswith("//") else "/dashboard"


def _same_origin(request: Request) -> None:
    """Sign-in posts come before any session (so no CSRF token yet): refuse another site's page posting them."""
    origin = request.headers.get("origin")
    if origin is not None and origin.split("://", 1)[-1] != request.url.netloc:
        raise PermissionDenied("a sign-in must come from this site's own page", code="csrf_failed")


async def _login_limit(services: Services, request: Request, *subjects: str) -> None:
    rpm = services.settings.hub.login_rpm
    client = request.client.host if request.client else "unknown"
    subjects = (f"ip:{client}", *subjects)
    takes: list[tuple[str, int | None, int, str]] = [(f"login:{s}", rpm, 1, "requests") for s in subjects]
    await services.limiter.take_all(takes)


def _with_cookie(response: Response, session: Session, services: Services, request: Request) -> Response:
    assert session.token is not None
    secure = services.settings.hub.secure_cookies
    if secure is None:
        secure = request.url.hostname not in {"127.0.0.1", "localhost", "::1"}
    ttl = int(services.settings.hub.session_ttl)
    response.set_cookie(COOKIE, session.token, max_age=ttl, httponly=True, samesite="lax", secure=secure, path="/")
    return response


@router.get("/login")
async def login(request: Request, who: VisitorDep, next: str | None = None) -> Response:
    return page(request, "login.html", who, next=_safe_next(next))


@router.get("/auth/siwe/message")
async def siwe_message(request: Request, services: ServicesDep, address: str = Query(max_length=42)) -> JSONResponse:
    """The whole EIP-4361 message for the wallet to sign, for the host this page is on."""
    _same_origin(request)
    await _login_limit(services, request)
    uri = str(request.base_url).rstrip("/")
    text = await services.signin.siwe_message(address, request.url.netloc, uri)
    return JSONResponse({"message": text, "chain_id": services.signin.chain_id})


@router.post("/auth/siwe")
async def siwe_sign_in(request: Request, proof: SiweProof, services: ServicesDep, who: VisitorDep) -> Response:
    _same_origin(request)
    await _login_limit(services, request)
    identity = await services.signin.siwe_verify(proof.message, proof.signature, request.url.netloc)
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
    _same_origin(request)
    await _login_limit(services, request, f"email:{email.strip().lower()}")
    callback = str(request.url_for("email_callback"))
    await services.signin.send_link(email, callback)
    hub = services.settings.hub
    context = {"email": email, "lifetime": services.signin.link_lifetime, "outbox": hub.mailer == "outbox"}
    return page(request, "email_sent.html", who, **context)


@router.get("/auth/email/callback", name="email_callback")
async def email_callback(
    request: Request, services: ServicesDep, who: VisitorDep, token: str = Query(max_length=1000)
) -> Response:
    await _login_limit(services, request)
    identity = await services.signin.redeem_link(token)
    session = await services.signin.open_session(identity, who.user_id)
    return _with_cookie(RedirectResponse("/dashboard", status_code=303), session, services, request)


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
    mailer = services.signin.mailer
    local = request.client is not None and request.client.host in {"127.0.0.1", "::1"}
    if not (local or who.is_admin):  # the mail holds sign-in links: only the machine's owner may read them
        raise PermissionDenied("the development outbox is shown on the server's own machine or to admins")
    if not isinstance(mailer, OutboxMailer):
        raise NotFound("this server sends its mail (hub.mailer is not `outbox`)")
    return page(request, "outbox.html", who, mails=await mailer.recent())

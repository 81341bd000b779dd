"""What every Hub page shares: the templates, who is signed in, the CSRF check, and errors as pages.

Pages call the domain services directly (``Services``), never the HTTP API over loopback. Errors are the one
error tree (``cluster.errors``): a page shows them as a page, an HTMX request as a message in the page's alert
region, a script's JSON request as OpenAI's error body (``cluster.api.errors``)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from cluster.api.access import credentials
from cluster.api.deps import get_services
from cluster.api.errors import error_response
from cluster.auth import Principal, Role
from cluster.auth.identities import Identity
from cluster.auth.sessions import COOKIE, CSRF_HEADER, Session
from cluster.auth.times import aware, utcnow
from cluster.errors import ClusterError, InvalidRequest, PermissionDenied
from cluster.services import Services

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")


def usdc(micro: int | str | None) -> str:
    """Micro-USDC (or USDC base units as a decimal string) as USDC, every digit kept (money is exact here)."""
    if micro is None:
        return "—"
    amount = int(micro)
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 1_000_000)
    return f"{sign}{whole:,}.{frac:06d}".rstrip("0").rstrip(".") + " USDC"


def when(value: int | datetime | None) -> str:
    if value is None:
        return "—"
    moment = datetime.fromtimestamp(value, UTC) if isinstance(value, int) else aware(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


templates.env.filters["usdc"] = usdc
templates.env.filters["when"] = when


@dataclass(frozen=True, slots=True)
class Visitor:
    """Who is looking at a page: a signed-in account (its session) or nobody."""

    session: Session | None
    role: Role | None = None

    @property
    def user_id(self) -> str | None:
        return self.session.user_id if self.session else None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def signed_in_as(self) -> str:
        return Identity(*self.session.via.split(":", 1)).short if self.session else ""


class SignInRequired(Exception):
    pass


async def visitor(request: Request) -> Visitor:
    token = request.cookies.get(COOKIE)
    if token is None:
        return Visitor(None)
    found = await get_services(request).auth.sessions.find(token, utcnow())
    return Visitor(*found) if found else Visitor(None)


async def member(request: Request) -> Principal:
    """The signed-in account as a principal (what the domain services take); pages redirect to sign-in."""
    services = get_services(request)
    token = request.cookies.get(COOKIE)
    if token is None:
        raise SignInRequired
    try:
        caller = await services.auth.authenticate(f"Bearer {token}")
    except ClusterError as error:
        if error.code in ("invalid_session", "invalid_api_key"):  # expired, signed out, or not a session at all
            raise SignInRequired from None
        raise
    await credentials(services, request)  # a state change must carry the session's CSRF token
    return caller


async def admin(caller: Annotated[Principal, Depends(member)]) -> Principal:
    if not caller.is_admin:
        raise PermissionDenied("this page is for administrators", code="insufficient_role")
    return caller


VisitorDep = Annotated[Visitor, Depends(visitor)]
MemberDep = Annotated[Principal, Depends(member)]
AdminDep = Annotated[Principal, Depends(admin)]
ServicesDep = Annotated[Services, Depends(get_services)]


def page(request: Request, template: str, who: Visitor, status: int = 200, /, **context: Any) -> Response:
    csrf = who.session.csrf if who.session else ""
    return templates.TemplateResponse(
        request, template, {"who": who, "csrf": csrf, "csrf_header": CSRF_HEADER, **context}, status_code=status
    )


class HubRoute(APIRoute):
    """Hub routes turn the error tree into what the asker can show: a page, an HTMX alert, or JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                target = "/login?next=" + quote(request.url.path)
                if request.headers.get("hx-request"):
                    return Response(status_code=204, headers={"HX-Redirect": target})
                return RedirectResponse(target, status_code=303)
            except ValidationError as invalid:  # a form's values built into a domain model in the handler
                first = invalid.errors()[0]
                where = ".".join(str(part) for part in first["loc"]) or None
                return await self._show(request, InvalidRequest(f"{first['msg']} (at '{where}')", param=where))
            except ClusterError as error:
                return await self._show(request, error)

        return handle

    @staticmethod
    async def _show(request: Request, error: ClusterError) -> Response:
        if request.headers.get("hx-request"):  # the page shows it in its alert region
            return Response(error.message, status_code=error.status, media_type="text/plain")
        if "text/html" in request.headers.get("accept", ""):  # a browser navigating (a link, a plain form)
            return page(request, "error.html", await visitor(request), error.status, error=error)
        return error_response(error)  # a script or another client

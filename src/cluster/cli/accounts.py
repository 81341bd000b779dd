"""Operator commands over the database (the operator is trusted as an admin): admin init, users, keys,
credits and usage. Amounts are given in USDC (``12.5``) and handled as integer micro-USDC."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from cluster.auth import Principal, Role, Scope
from cluster.auth.identities import Identity
from cluster.auth.mail import OutboxMailer
from cluster.auth.models import OutboxMail
from cluster.auth.protocol import KeyCreateRequest
from cluster.auth.signin import EMAIL
from cluster.billing.protocol import AdjustRequest
from cluster.cli.money import micro, usdc
from cluster.db import assembly as db
from cluster.errors import ClusterError
from cluster.marketplace.keys import rewrap_keys
from cluster.services import Services
from cluster.settings import Settings
from cluster.storage import assembly as storage

T = TypeVar("T")
ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="cluster.toml to read")]
OPERATOR = Principal(user_id="operator", role=Role.ADMIN, key_id="cli", scopes=frozenset(Scope))

admin_app = typer.Typer(no_args_is_help=True, help="Bootstrap administration.")
users_app = typer.Typer(no_args_is_help=True, help="Users.")
keys_app = typer.Typer(no_args_is_help=True, help="API keys.")


def register(app: typer.Typer) -> None:
    app.add_typer(admin_app, name="admin")
    app.add_typer(users_app, name="users")
    app.add_typer(keys_app, name="keys")
    app.command()(credit)
    app.command()(debit)
    app.command()(balance)
    app.command()(usage)
    app.command()(outbox)


def _run(config: Path | None, job: Callable[[Services], Awaitable[T]]) -> T:
    async def main() -> T:
        settings = Settings.load(config)
        # Account commands never touch the chain: do not start (or deploy to) a dev chain for them.
        settings.chain = settings.chain.model_copy(update={"enabled": False})
        async with Services.running(settings) as services:
            return await job(services)

    return reported(main)


def reported(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``main``; a ``ClusterError`` becomes one line on stderr and exit status 1."""
    try:
        return asyncio.run(main())
    except ClusterError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(1) from None


@admin_app.command("init")
def admin_init(
    name: str = "admin",
    email: Annotated[str | None, typer.Option(help="the admin signs in to the Hub with this address")] = None,
    config: ConfigOption = None,
) -> None:
    """Create the first admin and print its API key (shown once). On the embedded default (SQLite in the data dir)
    the admin also gets ``auth.dev_credit`` (10 USDC) to try the API with; a configured database gets nothing."""
    if email is not None and not EMAIL.match(email.strip().lower()):
        typer.echo(f"error: {email!r} is not an email address", err=True)
        raise typer.Exit(2)

    async def job(services: Services) -> tuple[str, str, int]:
        user, key = await services.auth.init_admin(name)
        if email is not None:
            await services.signin.identities.link(user.id, Identity("email", email.strip().lower()))
        settings = services.settings
        credit = settings.auth.dev_credit if settings.database_url is None else 0
        if credit:
            memo = "development balance (embedded default)"
            await services.billing.credit(
                AdjustRequest(user_id=user.id, amount=credit, idempotency_key="dev", memo=memo)
            )
        return user.id, key.key, credit

    user_id, key, credit = _run(config, job)
    typer.echo(f"admin user: {user_id}\nAPI key (store it now, it is not shown again):\n{key}")
    if email is not None:
        typer.echo(f"Hub sign-in: {email.strip().lower()} (an email link; without SMTP: cluster outbox)")
    if credit:
        typer.echo(f"development balance: {usdc(credit)} USDC (auth.dev_credit; embedded default only)")


@users_app.command("create")
def users_create(name: str, role: Role = Role.USER, config: ConfigOption = None) -> None:
    user = _run(config, lambda s: s.auth.create_user(name, role))
    typer.echo(user.id)


@keys_app.command("create")
def keys_create(
    user: Annotated[str, typer.Option(help="owner's user id")],
    name: str = "default",
    scopes: str = "read,write",
    models: Annotated[str | None, typer.Option(help="comma-separated allow-list")] = None,
    expires_in_days: float | None = None,
    config: ConfigOption = None,
) -> None:
    """Create a key and print it (shown once)."""
    request = KeyCreateRequest(
        name=name,
        scopes=[Scope(s.strip()) for s in scopes.split(",")],
        models=models.split(",") if models else None,
        expires_in_days=expires_in_days,
        user_id=user,
    )
    created = _run(config, lambda s: s.auth.create_key(OPERATOR, request))
    typer.echo(f"{created.id}\n{created.key}")


@keys_app.command("list")
def keys_list(user: Annotated[str, typer.Option(help="owner's user id")], config: ConfigOption = None) -> None:
    for key in _run(config, lambda s: s.auth.list_keys(OPERATOR, user)):
        state = "revoked" if key.revoked_at else "active"
        typer.echo(f"{key.id}  {key.display}  {','.join(key.scopes)}  {state}  last used {key.last_used_at}")


@keys_app.command("revoke")
def keys_revoke(key_id: str, config: ConfigOption = None) -> None:
    key = _run(config, lambda s: s.auth.revoke_key(OPERATOR, key_id))
    typer.echo(f"{key.id} revoked at {key.revoked_at}")


def credit(user: str, amount: str, idempotency_key: str, memo: str | None = None, config: ConfigOption = None) -> None:
    """Add AMOUNT USDC to USER's balance (the idempotency key makes a retry safe)."""
    request = AdjustRequest(user_id=user, amount=micro(amount), idempotency_key=idempotency_key, memo=memo)
    typer.echo(_run(config, lambda s: s.billing.credit(request)).model_dump_json())


def debit(user: str, amount: str, idempotency_key: str, memo: str | None = None, config: ConfigOption = None) -> None:
    """Take AMOUNT USDC from USER's balance."""
    request = AdjustRequest(user_id=user, amount=micro(amount), idempotency_key=idempotency_key, memo=memo)
    typer.echo(_run(config, lambda s: s.billing.debit(request)).model_dump_json())


def balance(user: str, config: ConfigOption = None) -> None:
    typer.echo(_run(config, lambda s: s.billing.balance(user)).model_dump_json())


def usage(
    user: str,
    start: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default: 30 days ago)")] = None,
    end: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default: today)")] = None,
    group_by: str = "model,day",
    config: ConfigOption = None,
) -> None:
    """Requests, tokens and spend (micro-USDC) per group."""
    last = date.fromisoformat(end) if end else date.today()
    first = date.fromisoformat(start) if start else last - timedelta(days=30)
    report = _run(config, lambda s: s.usage.report(user, first, last, group_by, None))
    typer.echo(json.dumps(report.model_dump(mode="json"), indent=1))


@admin_app.command("rotate-keys")
def rotate_keys(config: ConfigOption = None) -> None:
    """Re-wrap every dataset key under ``storage.current_master`` (add the new key to ``storage.master_keys``
    first, keep the old one until this has run)."""

    async def main() -> int:
        settings = Settings.load(config)  # the database and the keys only: no chain, no models
        async with db.running(settings) as engine, storage.running(settings) as stored:
            return await rewrap_keys(engine, stored.keys)

    typer.echo(f"re-wrapped {reported(main)} dataset keys")


def outbox(limit: Annotated[int, typer.Option(help="how many, newest first")] = 5, config: ConfigOption = None) -> None:
    """The sign-in mail the `outbox` mailer kept (hub.mailer = "outbox", the default without SMTP): how the
    machine's operator opens their first sign-in link."""

    async def main() -> list[OutboxMail]:
        async with db.running(Settings.load(config)) as engine:
            return await OutboxMailer(engine).recent(limit)

    for mail in reported(main):
        typer.echo(f"--- {mail.created_at:%Y-%m-%d %H:%M:%S} UTC to {mail.recipient}: {mail.subject}\n{mail.body}")

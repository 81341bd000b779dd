"""Where sign-in mail goes: three backends behind one small protocol, chosen by ``hub.mailer``.

- ``smtp``: sent through the configured server (STARTTLS and login when set); the stdlib client in a thread,
  since one sign-in mail does not justify another dependency.
- ``outbox``: kept in the database and shown on the development outbox page, for a self-hoster without SMTP
  (the default; the page says what it is).
- ``memory``: kept in a list, for tests.
"""

from __future__ import annotations

import asyncio
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.auth.models import OutboxMail
from cluster.auth.times import utcnow
from cluster.errors import ServiceUnavailable
from cluster.settings.accounts import HubSettings, SmtpSettings


@dataclass(frozen=True, slots=True)
class Mail:
    recipient: str
    subject: str
    body: str


class Mailer(Protocol):
    async def send(self, mail: Mail) -> None: ...


class MemoryMailer:
    def __init__(self) -> None:
        self.sent: list[Mail] = []

    async def send(self, mail: Mail) -> None:
        self.sent.append(mail)


class OutboxMailer:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def send(self, mail: Mail) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                insert(OutboxMail).values(
                    recipient=mail.recipient, subject=mail.subject, body=mail.body, created_at=utcnow()
                )
            )

    async def recent(self, limit: int = 20) -> list[OutboxMail]:
        async with self._engine.connect() as connection:
            rows = await connection.execute(select(OutboxMail).order_by(OutboxMail.id.desc()).limit(limit))
            return [OutboxMail(**row._mapping) for row in rows]


class SmtpMailer:
    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings

    async def send(self, mail: Mail) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self._settings.sender, mail.recipient, mail.subject
        message.set_content(mail.body)
        try:
            await asyncio.to_thread(self._deliver, message)
        except (OSError, smtplib.SMTPException) as failure:
            why = f"the sign-in mail could not be sent: {failure}"
            raise ServiceUnavailable(why, code="mail_unavailable") from None

    def _deliver(self, message: EmailMessage) -> None:
        config = self._settings
        with smtplib.SMTP(config.host, config.port, timeout=config.timeout) as smtp:
            if config.starttls:
                smtp.starttls()
            if config.username:
                smtp.login(config.username, config.password.get_secret_value() if config.password else "")
            smtp.send_message(message)


def mailer_for(settings: HubSettings, engine: AsyncEngine) -> Mailer:
    if settings.mailer == "smtp":
        return SmtpMailer(settings.smtp)
    if settings.mailer == "memory":
        return MemoryMailer()
    return OutboxMailer(engine)

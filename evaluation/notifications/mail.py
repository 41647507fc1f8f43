"""Email for notices, through the SMTP server an installation configures (off when no host is
set). smtplib runs in a worker thread, so a slow mail server never holds up the event loop."""

from __future__ import annotations

import asyncio
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage


@dataclass(frozen=True)
class MailSettings:
    """Where and how to send: ``host`` empty means email is off."""

    host: str = ""
    port: int = 25
    sender: str = "pingbiao@localhost"
    starttls: bool = False
    user: str = ""
    password: str = ""
    timeout: float = 10.0

    @property
    def enabled(self) -> bool:
        return bool(self.host)


def message(settings: MailSettings, to: str, subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = settings.sender, to, subject
    msg.set_content(body)
    return msg


def _send(settings: MailSettings, messages: list[EmailMessage]) -> None:
    with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
        if settings.starttls:
            smtp.starttls()
        if settings.user:
            smtp.login(settings.user, settings.password)
        for msg in messages:
            smtp.send_message(msg)


async def send(settings: MailSettings, messages: list[EmailMessage]) -> None:
    """Send `messages` in one SMTP session. Raises OSError / smtplib.SMTPException on failure."""
    if messages:
        await asyncio.to_thread(_send, settings, messages)

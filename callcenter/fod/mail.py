"""E-mail of a received fax: the PDF attached, to ``fax.inbox_email_to``, through the mail
server of ``voicemail.smtp`` (the site has one). The fax inbox row is the outbox: a fax not yet
e-mailed is sent until the server takes it (backoff while it is down, also after a restart),
then marked, so each fax is e-mailed once; a permanent refusal is logged and marked too."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

from callcenter.fod.repository import ReceivedFax
from callcenter.voicemail.delivery import Refused, plain, send_mail
from callcenter.voicemail.settings import SmtpSettings


class InboxMailer:
    def __init__(self, smtp: SmtpSettings, to: Sequence[str], pdf: Callable[[str], Path]) -> None:
        self._smtp = smtp
        self._to = tuple(to)
        self._pdf = pdf

    def compose(self, fax: ReceivedFax, pdf: bytes) -> EmailMessage:
        caller = plain(fax.caller) or "unknown"
        mail = EmailMessage()
        mail["From"] = self._smtp.sender
        mail["To"] = ", ".join(self._to)
        mail["Subject"] = f"Fax received from {caller} ({fax.pages} pages)"
        mail["Date"] = formatdate(fax.created_at.timestamp(), localtime=False)
        mail["Message-ID"] = f"<fax-{fax.id}@callcenter>"  # the same on every retry
        lines = [
            f"A fax was received on the fax number: {fax.pages} pages.",
            f"Caller: {caller}",
            f"Sending station: {plain(fax.remote_station) or '-'}",
            f"Received: {fax.created_at.isoformat()}",
        ]
        mail.set_content("\n".join(lines) + "\n")
        mail.add_attachment(
            pdf, maintype="application", subtype="pdf", filename=f"fax-{fax.id}.pdf"
        )
        return mail

    async def send(self, fax: ReceivedFax) -> None:
        """Raises ``TryLater`` while the server is unreachable, ``Refused`` for good."""
        try:
            pdf = await asyncio.to_thread(self._pdf(fax.id).read_bytes)
        except OSError as exc:
            raise Refused(f"the fax's PDF cannot be read: {exc}") from None
        await asyncio.to_thread(send_mail, self._smtp, self.compose(fax, pdf))

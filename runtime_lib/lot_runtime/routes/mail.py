"""The EMAIL route over aiosmtplib: one mail per message.

``MailRoute`` sends, for each message on an event's ``source`` filter, a
mail to the event's ``recipient`` (one or more addresses, separated by
commas or semicolons) with its ``subject`` and a body: the event's
``body`` as plain text, or the HTML file at ``template_path`` (the older
route's form, read at each mail so that it can be edited in place), or,
with neither, the payload itself.  Placeholders are filled from the
message everywhere; in an HTML template each value is HTML-escaped, so a
payload cannot add markup to the mail.  The sender is ``sender`` (FROM),
else ``username`` when it is an address, else that name (or ``lot``) at
this host's name.

The mail server is ``host``:``port``.  With ``use_tls`` the connection is
encrypted and the server's certificate verified: TLS from the start on port
465, STARTTLS (required) on any other port; without it the route never
starts TLS.  With a ``username`` the route logs in; the password is never
logged.  The route keeps one SMTP session open and sends one mail at a
time.

Messages wait in a disk spool (``spooled.SpooledSender``), so a mail server
that is down, refuses the login, or answers 4xx ("try again later") loses
nothing: the mail is sent again with backoff.  A mail the server refuses
for good (a 5xx answer, every recipient refused), or one that cannot be
written (no recipient, a line break in the subject, a placeholder without a
value, an unreadable template file) goes to ``lot/<site>/deadletter/<route>``
with the reason.  In a template file, placeholders of the message are
filled (``{payload}``, ``{value.json.device}``, ``{topic.2}``,
``{timestamp}``); other braces, CSS say, stay as written.
"""

from __future__ import annotations

import html
import logging
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from pathlib import Path

import aiosmtplib

from . import RouteContext, Setting
from .spooled import (
    Refuse,
    Retry,
    SpooledSender,
    Template,
    constants_of,
    describe,
    placeholder_names,
)
from .sql_values import Message

__all__ = ["MailEvent", "MailRoute"]

log = logging.getLogger("lot")

IMPLICIT_TLS_PORT = 465
_SEPARATORS = re.compile(r"[;,]")


@dataclass(frozen=True, slots=True)
class MailEvent:
    """``ADD EVENT`` (or the older ``ADD MAPPING``): a mail per message."""

    name: str
    source: str
    recipient: str
    subject: str = ""
    body: str | None = None
    template_path: str | None = None


class MailRoute(SpooledSender):
    """An EMAIL route; see the module docstring."""

    far_side = "the mail server"

    def __init__(
        self,
        *,
        name: str,
        host: Setting,
        events: Sequence[MailEvent],
        port: Setting = 587,
        username: Setting = None,
        password: Setting = None,
        use_tls: Setting = None,
        sender: Setting = None,
        timeout: float = 30.0,
        batch_size: int = 64,
        spool_limit: int = 256 * 2**20,
        spool_memory: int = 50_000,
    ) -> None:
        self.events = tuple(events)
        super().__init__(
            name,
            [e.source for e in self.events],
            parallel=1,
            batch_size=batch_size,
            spool_limit=spool_limit,
            spool_memory=spool_memory,
        )
        self.settings: dict[str, Setting] = {
            "host": host,
            "port": port,
            "username": username,
            "password": password,
            "use_tls": use_tls,
            "sender": sender,
        }
        self.timeout = timeout
        self._smtp: aiosmtplib.SMTP | None = None
        self._resolved: dict[str, str] = {}
        self._templates: list[tuple[Template, Template, Template | None]] = []
        self._constants: dict[str, str] = {}

    def event_name(self, event: int) -> str:
        return self.events[event].name

    async def open(self, context: RouteContext) -> None:
        self._resolved = {
            key: "" if value is None else str(context.resolve(value))
            for key, value in self.settings.items()
        }
        texts: list[str | None] = [e.recipient for e in self.events]
        texts += [e.subject for e in self.events] + [e.body for e in self.events]
        self._constants = constants_of(placeholder_names(texts), context)
        self._templates = [
            (
                Template(e.recipient, self._constants),
                Template(e.subject, self._constants),
                Template(e.body, self._constants) if e.body is not None else None,
            )
            for e in self.events
        ]

    async def close(self) -> None:
        await self._drop()

    async def send(self, event: int, message: Message, context: RouteContext) -> None:
        mail = self._compose(event, message)
        smtp = await self._connect()
        try:
            refused, _ = await smtp.send_message(mail)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise Refuse(f"every recipient was refused: {_replies(exc)}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            if 400 <= exc.code < 500:
                raise Retry(f"SMTP {exc.code} {exc.message}") from exc
            raise Refuse(f"SMTP {exc.code} {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            await self._drop()
            raise Retry(describe(exc)) from exc
        if refused:
            log.warning(
                "route %s: event %s: the server refused %d of the recipients",
                self.name,
                self.events[event].name,
                len(refused),
            )

    # -- the mail

    def _compose(self, event: int, message: Message) -> EmailMessage:
        """The mail for ``message``; Refuse when it cannot be written."""
        recipient, subject, body = self._templates[event]
        addresses = [
            address
            for _, address in getaddresses(_SEPARATORS.split(recipient.fill(message)))
            if address
        ]
        if not addresses:
            raise Refuse("the mail has no recipient")
        mail = EmailMessage()
        try:
            mail["From"] = self._sender()
            mail["To"] = ", ".join(addresses)
            mail["Subject"] = subject.fill(message)
        except ValueError as exc:
            raise Refuse(f"a header cannot be written: {exc}") from exc
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = make_msgid(domain=_domain(mail["From"]))
        path = self.events[event].template_path
        if body is not None:
            mail.set_content(body.fill(message))
        elif path:
            mail.set_content(self._html(path, message), subtype="html")
        else:
            mail.set_content(message.text)
        return mail

    def _sender(self) -> str:
        """FROM, else the login name when it is an address, else that name
        (or ``lot``) at this host: a mail always has a From address."""
        for written in (self._resolved["sender"], self._resolved["username"]):
            if "@" in written:
                return written
        local = self._resolved["sender"] or self._resolved["username"] or "lot"
        return f"{local}@{socket.getfqdn()}"

    def _html(self, path: str, message: Message) -> str:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = f"the template {path} cannot be read: {describe(exc)}"
            raise Refuse(reason) from exc
        return Template(text, self._constants, html.escape, lenient=True).fill(message)

    # -- the session

    async def _connect(self) -> aiosmtplib.SMTP:
        if self._smtp is not None and self._smtp.is_connected:
            return self._smtp
        settings = self._resolved
        port = int(settings["port"] or 587)
        secure = settings["use_tls"].lower() == "true"
        smtp = aiosmtplib.SMTP(
            hostname=settings["host"],
            port=port,
            timeout=self.timeout,
            use_tls=secure and port == IMPLICIT_TLS_PORT,
            start_tls=secure and port != IMPLICIT_TLS_PORT,
        )
        try:
            await smtp.connect()
            if settings["username"]:
                await smtp.login(settings["username"], settings["password"])
        except aiosmtplib.SMTPAuthenticationError as exc:
            await _quietly_close(smtp)
            raise Retry(f"the server refused the login (SMTP {exc.code})") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            await _quietly_close(smtp)
            raise Retry(describe(exc)) from exc
        self._smtp = smtp
        return smtp

    async def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            await _quietly_close(smtp)


async def _quietly_close(smtp: aiosmtplib.SMTP) -> None:
    """Say QUIT when the session is still there; a failure changes nothing."""
    try:
        if smtp.is_connected:
            await smtp.quit()
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        smtp.close()


def _replies(exc: aiosmtplib.SMTPRecipientsRefused) -> str:
    return "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)


def _domain(sender: str) -> str:
    """The domain of a Message-ID: the sender's, else this host's name."""
    _, _, domain = sender.rpartition("@")
    return domain or socket.getfqdn()

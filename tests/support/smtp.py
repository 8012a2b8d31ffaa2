"""A real SMTP server for integration tests: aiosmtpd on a free port, in a
thread of its own, keeping every mail it accepts::

    server = SmtpServer(users={"alerts": "pw"})
    server.start()
    server.mails                       # (sender, recipients, parsed mail)
    server.refuse("bad@x", 550)        # that recipient is refused
    server.busy(2)                     # the next 2 mails get 451
    server.stop(); server.start()      # same port

With ``users`` the server offers AUTH LOGIN/PLAIN (over plain TCP: tests
only, and pyproject.toml silences aiosmtpd's warning about it) and refuses
a wrong password with 535.  With ``tls`` (a certificate and key file) it
offers STARTTLS and requires it before MAIL.
"""

from __future__ import annotations

import email
import email.policy
import ssl
import threading
import time
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from .mosquitto import free_port

__all__ = ["SmtpServer"]


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, options):
        code = self.server.refused.get(address)
        if code:
            return f"{code} 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.server.lock:
            if self.server.busy_left > 0:
                self.server.busy_left -= 1
                return "451 4.3.0 try again later"
            mail = email.message_from_bytes(
                envelope.content, _class=EmailMessage, policy=email.policy.default
            )
            self.server.mails.append(
                (envelope.mail_from, list(envelope.rcpt_tos), mail)
            )
        return "250 OK"


class SmtpServer:
    """One aiosmtpd server that can be stopped and started on its port."""

    host = "127.0.0.1"

    def __init__(
        self,
        *,
        users: dict[str, str] | None = None,
        tls: tuple[Path, Path] | None = None,
        port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.users = users
        self.tls = tls
        self.mails: list[tuple[str, list[str], EmailMessage]] = []
        self.refused: dict[str, int] = {}
        self.busy_left = 0
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword) and self.users is not None:
            user = auth_data.login.decode()
            if self.users.get(user) == auth_data.password.decode():
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def refuse(self, address: str, code: int = 550) -> None:
        self.refused[address] = code

    def busy(self, times: int) -> None:
        with self.lock:
            self.busy_left = times

    def start(self) -> None:
        if self._controller is not None:
            return
        options: dict[str, object] = {}
        if self.users is not None:
            options |= {
                "authenticator": self._authenticate,
                "auth_require_tls": self.tls is not None,
                "auth_required": True,
            }
        if self.tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*map(str, self.tls))
            options |= {"tls_context": context, "require_starttls": True}
        self._controller = Controller(
            _Handler(self), hostname=self.host, port=self.port, **options
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(self, count: int, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.mails) >= count:
                    return list(self.mails)
            time.sleep(0.02)
        with self.lock:
            return list(self.mails)

    def __enter__(self) -> SmtpServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

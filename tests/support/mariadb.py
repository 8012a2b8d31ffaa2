"""A real MariaDB server for integration tests, on a free loopback port.

    server = MariaDB()
    server.start()                 # mariadb-install-db on first start
    server.sql("SELECT 1")         # run SQL with the mariadb client, rows as text
    server.stop(); server.start()  # same port, same data
    server.destroy()               # stop and remove the data

The server has a database ``lot`` and a user ``lot`` (password ``lot-pw``)
that may do anything in it, reached over TCP on 127.0.0.1 only; it never
touches the system server on port 3306.  The server refuses to run as root
without being told to, so under root (CI) it runs as the ``nobody`` OS
user, in a folder that user owns.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from .mosquitto import free_port

__all__ = ["MariaDB"]

USER, PASSWORD, DATABASE = "lot", "lot-pw", "lot"


class MariaDB:
    """One MariaDB server that can be stopped and started on its port."""

    host = "127.0.0.1"
    user, password, database = USER, PASSWORD, DATABASE

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="lotc-mariadb-"))
        self._as = "nobody" if os.geteuid() == 0 else None
        if self._as:
            entry = pwd.getpwnam(self._as)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self.data = self.root / "data"
        self.socket = self.root / "server.sock"
        self.log = self.root / "server.log"
        self._process: subprocess.Popen[bytes] | None = None

    def _argv(self, *command: str) -> list[str]:
        return ["runuser", "-u", self._as, "--", *command] if self._as else [*command]

    def start(self, timeout: float = 20.0) -> None:
        if self._process is not None:
            return
        fresh = not self.data.exists()
        if fresh:
            subprocess.run(
                self._argv(
                    "mariadb-install-db",
                    "--no-defaults",
                    f"--datadir={self.data}",
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                ),
                check=True,
                capture_output=True,
            )
        with open(self.log, "ab") as log:
            self._process = subprocess.Popen(
                self._argv(
                    "mariadbd",
                    "--no-defaults",
                    f"--datadir={self.data}",
                    f"--port={self.port}",
                    f"--bind-address={self.host}",
                    f"--socket={self.socket}",
                    "--skip-name-resolve",
                    "--innodb-flush-log-at-trx-commit=0",
                ),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_listening(timeout)
        if fresh:
            self.sql(
                f"CREATE DATABASE {DATABASE}; "
                f"CREATE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}'; "
                f"GRANT ALL ON {DATABASE}.* TO '{USER}'@'%';",
                database="",
            )

    def _wait_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"MariaDB stopped: see {self.log}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.port), timeout=0.2),
            ):
                return
            time.sleep(0.05)
        raise RuntimeError(f"MariaDB did not listen on {self.port}: see {self.log}")

    def stop(self) -> None:
        """Shut the server down (SIGTERM: clients are disconnected)."""
        if self._process is not None:
            self._process.send_signal(signal.SIGTERM)
            self._process.wait(30)
            self._process = None

    def sql(self, statement: str, database: str | None = None) -> list[list[str]]:
        """Run SQL as root with the mariadb client; rows as lists of text."""
        result = subprocess.run(
            [
                "mariadb",
                "--no-defaults",
                "-h",
                self.host,
                "-P",
                str(self.port),
                "-u",
                "root",
                "--batch",
                "--skip-column-names",
                "-e",
                statement,
                *(
                    [database if database is not None else DATABASE]
                    if database != ""
                    else []
                ),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return [line.split("\t") for line in result.stdout.splitlines() if line]

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> MariaDB:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()

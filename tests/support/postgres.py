"""A real PostgreSQL server for integration tests, on a free loopback port.

Use the `postgres` fixture (tests/conftest.py), or the class directly::

    server = Postgres(tmp_path / "pg")
    server.start()                  # initdb on first start, then pg_ctl start
    server.dsn                      # postgresql://postgres@127.0.0.1:<port>/postgres
    server.sql("SELECT 1")          # run SQL through psql, rows as text
    server.stop(); server.start()   # same port, same data
    server.destroy()                # stop and remove the cluster

``durable=True`` keeps PostgreSQL's own fsync settings (benchmarks); by
default commits need not reach the disk, which keeps tests quick.
``settings`` is appended to postgresql.conf as written.

The cluster lives in a folder of its own with trust authentication on
127.0.0.1 only, and never touches the system server on port 5432.
``initdb`` refuses to run as root, so when the tests run as root (CI) every
server command runs as the ``postgres`` OS user, in a folder that user owns.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from .mosquitto import free_port

__all__ = ["Postgres"]

BIN = Path(os.environ.get("LOTC_PG_BIN", "/usr/lib/postgresql/15/bin"))


class Postgres:
    """One PostgreSQL cluster that can be stopped and started on its port."""

    host = "127.0.0.1"
    user = "postgres"
    database = "postgres"

    def __init__(
        self,
        folder: Path | None = None,
        port: int | None = None,
        *,
        durable: bool = False,
        settings: str = "",
    ) -> None:
        self.port = port or free_port()
        self.durable = durable
        self.settings = settings
        self._as_postgres = os.geteuid() == 0
        # The data folder must belong to the server's user: under root, a
        # temporary folder of the postgres user's own, outside the test's
        # tmp_path (whose parents the postgres user may not traverse).
        if self._as_postgres:
            self.root = Path(tempfile.mkdtemp(prefix="lotc-pg-"))
            _give_to_postgres(self.root)
        else:
            self.root = Path(folder or tempfile.mkdtemp(prefix="lotc-pg-"))
            self.root.mkdir(parents=True, exist_ok=True)
        self.data = self.root / "data"
        self.log = self.root / "server.log"

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def _run(self, *command: str, check: bool = True, **kw):
        argv = [str(BIN / command[0]), *command[1:]]
        if self._as_postgres:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        return subprocess.run(argv, check=check, capture_output=True, text=True, **kw)

    def start(self, timeout: float = 15.0) -> None:
        """Create the cluster when needed, start it and wait for connections."""
        if not (BIN / "initdb").exists():
            raise RuntimeError(f"PostgreSQL binaries are not installed in {BIN}")
        if not self.data.exists():
            self._initdb()
        if self.running:
            return
        self._run(
            "pg_ctl",
            "start",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-t",
            str(int(timeout)),
            "-o",
            f"-p {self.port} -c listen_addresses={self.host} -k {self.root}",
        )
        self._wait_listening(timeout)

    def _initdb(self) -> None:
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            self.user,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        with open(self.data / "postgresql.conf", "a") as conf:
            if not self.durable:
                # A test server: commits need not reach the disk (benchmarks
                # ask for ``durable=True`` and keep the server's defaults).
                conf.write("fsync = off\nsynchronous_commit = off\n")
            conf.write(self.settings)

    def _wait_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.port), timeout=0.2),
            ):
                return
            time.sleep(0.05)
        raise RuntimeError(f"PostgreSQL did not listen on {self.port}: see {self.log}")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: disconnect clients, shut down cleanly;
        ``immediate``: as a crash would)."""
        if self.running:
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w")

    def restart(self) -> None:
        self.stop()
        self.start()

    def sql(self, statement: str, database: str | None = None) -> list[list[str]]:
        """Run SQL with psql; the rows as lists of text (NULL as "")."""
        result = self._run(
            "psql",
            "-X",
            "-q",
            "-A",
            "-t",
            "-F",
            "\x1f",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            self.host,
            "-p",
            str(self.port),
            "-U",
            self.user,
            "-d",
            database or self.database,
            "-c",
            statement,
        )
        return [line.split("\x1f") for line in result.stdout.splitlines() if line]

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Postgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()


def _give_to_postgres(folder: Path) -> None:
    entry = pwd.getpwnam("postgres")
    os.chown(folder, entry.pw_uid, entry.pw_gid)
    folder.chmod(0o700)

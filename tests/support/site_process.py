"""A generated site run as operators run it: ``python -m <package> run`` in a
child process of its own, its output appended to a log file that failures
show.  It can be stopped (SIGTERM, as a service manager does), killed
(SIGKILL, as a power cut or the OOM killer does) and started again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest


class SiteProcess:
    """One generated package, started from `tree` against `broker`."""

    def __init__(
        self,
        tree: Path,
        package: str,
        broker: Any,
        *,
        log: Path,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        self.package, self.broker, self.log, self.args = package, broker, log, args
        self.environment = {
            **os.environ,
            "PYTHONPATH": str(tree),
            "LOT_BROKER_URL": broker.url,
            "LOT_LOG_LEVEL": "DEBUG",
            **(env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> SiteProcess:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.package, "run", *self.args],
                env=self.environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_online(self, site: str, timeout: float = 10.0) -> None:
        """Wait for the site's retained `online` status on its broker."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.broker.retained(f"lot/{site}/status", timeout=0.3) == b"online":
                return
            assert self.running, self.output()
        pytest.fail(f"site {site} never came online:\n{self.output()}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(5)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`; the exit status."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

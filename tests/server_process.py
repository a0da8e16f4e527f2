"""One real server as a foreground subprocess, for the fixtures that start Mosquitto and MariaDB.

Not a test module. ``ServerProcess`` starts a command with its output in a log file, waits
until the server answers, stops it with SIGTERM (or SIGKILL: a crash or a power cut as far as
its clients can tell) and remembers every pid it started, so a fixture can assert at teardown
that none is left running.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest


def skip_or_fail(tests: str, reason: str) -> None:
    """Skip on a developer's machine; fail under ``CI=true``, which must run every test."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI must run the {tests} tests, but {reason}.", pytrace=False)
    pytest.skip(reason)


def find_program(name: str) -> str | None:
    """``name`` on PATH or in the sbin folders, which a non-root PATH often lacks."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/local/sbin")


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        # PermissionError: the pid now belongs to another user's process, so ours is gone.
        return False
    return True


class ServerProcess:
    """A server started with ``launch`` and stopped with ``terminate`` or ``kill``."""

    def __init__(self, name: str, log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self.pids: list[int] = []

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} is not running"
        return self.process.pid

    def launch(
        self,
        argv: Sequence[str],
        ready: Callable[[], bool],
        timeout: float = 30.0,
        env: dict[str, str] | None = None,
    ) -> None:
        """Start ``argv`` and return once ``ready()`` is true; fail with the log if it exits."""
        assert not self.running, f"{self.name} is already running"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n--- {time.strftime('%H:%M:%S')} starting: {' '.join(argv)}\n".encode())
            log.flush()
            # Its own session: Ctrl+C on pytest does not reach it before the fixture stops it.
            self.process = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
            )
        self.pids.append(self.process.pid)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                self.process = None
                raise AssertionError(f"{self.name} exited at start ({code}):\n{self.log_tail()}")
            if ready():
                return
            time.sleep(0.05)
        self.kill()
        raise AssertionError(f"{self.name} was not ready in {timeout:.0f} s:\n{self.log_tail()}")

    def terminate(self, timeout: float = 30.0) -> None:
        """SIGTERM, the server's clean shutdown; SIGKILL if it has not exited by ``timeout``."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
            raise AssertionError(
                f"{self.name} ignored SIGTERM for {timeout:.0f} s:\n{self.log_tail()}"
            ) from None

    def kill(self) -> None:
        """``kill -9``: no shutdown code runs, nothing is flushed that was not already."""
        process, self.process = self.process, None
        assert process is not None, f"{self.name} is not running"
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(timeout=10)

    def assert_all_gone(self) -> None:
        """Every process this object started has exited and been reaped."""
        left = [pid for pid in self.pids if pid_alive(pid)]
        assert not left, f"{self.name} processes still running: {left}"

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return f"(no log at {self.log_path})"
        return "\n".join(text.splitlines()[-lines:])

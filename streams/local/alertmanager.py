"""A local Prometheus Alertmanager, for tests and the CI run.

Runs Debian's ``prometheus-alertmanager`` binary (``apt-get install
prometheus-alertmanager``; its systemd service is not used) on loopback, with
no clustering and a minimal configuration: every alert routes to a receiver
that notifies nobody, so the Alertmanager only stores, groups and shows alerts.

Layout under ``workdir``::

    alertmanager.yml     written at each start
    data/                --storage.path (silences, notification log)
    alertmanager.log     the process's output, truncated at each start

Usage::

    am = LocalAlertmanager(Path("/tmp/am"), port=9093)
    am.start()            # returns once GET /-/ready answers 200
    am.url                # "http://127.0.0.1:9093"
    am.stop()
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType

import httpx

from streams.errors import StreammonError

__all__ = ["ALERTMANAGER_PACKAGE", "LocalAlertmanager", "find_alertmanager"]

ALERTMANAGER_PACKAGE = "prometheus-alertmanager"
_DEFAULT_BINARY = Path("/usr/bin/prometheus-alertmanager")
_POLL_INTERVAL = 0.1
_LOG_TAIL_CHARS = 2000

_CONFIG = """\
global:
  resolve_timeout: {resolve_timeout}s
route:
  receiver: "null"
  group_by: ["..."]
receivers:
  - name: "null"
"""


def find_alertmanager() -> Path | None:
    """The Alertmanager binary: Debian's path, else ``prometheus-alertmanager`` or ``alertmanager`` on PATH."""
    if _DEFAULT_BINARY.is_file():
        return _DEFAULT_BINARY
    for name in (ALERTMANAGER_PACKAGE, "alertmanager"):
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


class LocalAlertmanager:
    """One Alertmanager process on ``127.0.0.1:port``, with its files under ``workdir``."""

    def __init__(self, workdir: Path, port: int, *, resolve_timeout_s: int = 300, binary: Path | None = None) -> None:
        self.workdir = Path(workdir)
        self.port = port
        self.resolve_timeout_s = resolve_timeout_s
        self.binary = binary
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The base URL of its HTTP API."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.workdir / "alertmanager.log"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout_s: float = 30.0) -> None:
        """Start the process and wait until it is ready; raise StreammonError if it cannot start."""
        if self.running:
            return
        binary = self.binary or find_alertmanager()
        if binary is None or not binary.is_file():
            where = str(binary) if binary is not None else str(_DEFAULT_BINARY)
            raise StreammonError(
                f"the Prometheus Alertmanager binary is not installed ({where} missing): "
                f"install it with `apt-get install {ALERTMANAGER_PACKAGE}`"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "alertmanager.yml"
        config.write_text(_CONFIG.format(resolve_timeout=self.resolve_timeout_s))
        with self.log_file.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    str(binary),
                    f"--config.file={config}",
                    f"--storage.path={self.workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--cluster.listen-address=",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=2.0) as client:
            while True:
                if self._process.poll() is not None:
                    code = self._process.returncode
                    self._process = None
                    raise StreammonError(f"Alertmanager exited with code {code} while starting:\n{self._log_tail()}")
                try:
                    if client.get(f"{self.url}/-/ready").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise StreammonError(f"Alertmanager on port {self.port} not ready after {timeout_s:g} s:\n{self._log_tail()}")
                time.sleep(_POLL_INTERVAL)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the process: SIGTERM, then SIGKILL after ``timeout_s``."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _log_tail(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-_LOG_TAIL_CHARS:]
        except OSError:
            return ""

    def __enter__(self) -> LocalAlertmanager:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

"""The broker's process: started detached, awaited until it answers, reported on, stopped.

:class:`KafkaBroker` is the local broker as a whole (see :mod:`streams.local.broker`):
its :meth:`~KafkaBroker.start` installs the jars (:mod:`.install`), writes the
configuration and formats the storage (:mod:`.config`) before it launches the JVM.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from streams.errors import BrokerError, ConfigError
from streams.local.broker.config import format_storage, server_properties, write_config
from streams.local.broker.install import KAFKA_VERSION, install_jars, require, tail

__all__ = ["BrokerStatus", "KafkaBroker"]

logger = logging.getLogger(__name__)

_KILL_TIMEOUT = 10.0
_POLL_INTERVAL = 0.2
_PROC = Path("/proc")


@dataclass(frozen=True)
class BrokerStatus:
    """What :meth:`KafkaBroker.status` found.

    Attributes
    ----------
    running : bool
        The broker process is alive and answers a metadata request.
    pid : int or None
        The broker's process id while the process is alive, even if it does not answer yet.
    bootstrap_servers : str
        Where clients connect, such as ``"127.0.0.1:9092"``.
    version : str
        The Apache Kafka version.
    home : Path
        The directory holding the jars, configuration and data.
    log_file : Path
        The broker's output.
    """

    running: bool
    pid: int | None
    bootstrap_servers: str
    version: str
    home: Path
    log_file: Path


class KafkaBroker:
    """A single-node KRaft Apache Kafka broker run from Maven Central jars.

    Parameters
    ----------
    home : Path
        Directory for the configuration, data, log and pid file (see :mod:`streams.local.broker`).
    host : str
        Address the broker binds to and advertises to clients.
    port : int
        Client (``PLAINTEXT``) port.
    controller_port : int
        KRaft controller port.
    heap : str
        JVM heap size, such as ``"512m"``.
    version : str
        Apache Kafka version to fetch from Maven Central.
    libs_home : Path or None
        Directory whose ``kafka-<version>/libs`` holds the jars; ``None`` means ``home``.
        Point several homes at one ``libs_home`` to fetch the jars once.
    sasl_port : int or None
        An extra ``SASL_PLAINTEXT`` listener with the ``PLAIN`` mechanism, for testing
        clients that authenticate; ``None``: none.
    sasl_users : Mapping[str, str] or None
        The users the SASL listener accepts and their passwords (written into
        ``server.properties``: test credentials only).

    Raises
    ------
    ConfigError
        If two ports are the same, or ``sasl_port`` and ``sasl_users`` are not given together.
    """

    def __init__(
        self,
        home: Path,
        host: str = "127.0.0.1",
        port: int = 9092,
        controller_port: int = 19093,
        heap: str = "512m",
        version: str = KAFKA_VERSION,
        libs_home: Path | None = None,
        sasl_port: int | None = None,
        sasl_users: Mapping[str, str] | None = None,
    ) -> None:
        if port == controller_port:
            raise ConfigError(f"kafka broker port and controller_port must differ; both are {port}")
        if sasl_port in (port, controller_port):
            raise ConfigError(f"kafka broker sasl_port must differ from port and controller_port; it is {sasl_port}")
        if (sasl_port is None) != (not sasl_users):
            raise ConfigError("kafka broker sasl_port and sasl_users go together")
        self.home = Path(home)
        self.host = host
        self.port = port
        self.controller_port = controller_port
        self.heap = heap
        self.version = version
        self.libs_home = None if libs_home is None else Path(libs_home)
        self.sasl_port = sasl_port
        self.sasl_users = dict(sasl_users or {})
        jars_home = self.home if self.libs_home is None else self.libs_home
        self._libs = jars_home / f"kafka-{version}" / "libs"
        self._run = self.home / f"run-{port}"
        self._properties = self._run / "server.properties"
        self._log4j = self._run / "log4j2.yaml"
        self._data = self._run / "data"
        self._log_file = self._run / "broker.log"
        self._pid_file = self._run / "broker.pid"
        self._bootstrap = f"{host}:{port}"
        # Kept so that a broker started here is reaped when it exits, not left a zombie
        # that still looks alive.
        self._process: subprocess.Popen[bytes] | None = None

    def install(self) -> Path:
        """Fetch the broker's jars with Maven, unless they are already there.

        Returns
        -------
        Path
            The directory holding the jars.

        Raises
        ------
        BrokerError
            If ``java`` or ``mvn`` is missing, or Maven fails.
        """
        return install_jars(self._libs, self.version)

    def start(self, timeout: float = 60.0) -> float:
        """Start the broker, or reuse the one already running for this home and port.

        Installs the jars if needed, writes the configuration, formats the storage the
        first time, launches the JVM detached and waits until the broker answers a Kafka
        metadata request.

        Parameters
        ----------
        timeout : float
            Seconds to wait for the broker to answer once launched; installing the jars
            and formatting the storage come on top.

        Returns
        -------
        float
            Seconds from the call until the broker answered, installation included.

        Raises
        ------
        BrokerError
            If a port is taken by another process, ``java`` or ``mvn`` is missing,
            installation or formatting fails, the broker exits while starting (the message
            ends with its last log lines), or it does not answer within ``timeout``.
        """
        began = time.monotonic()
        pid = self._running_pid()
        if pid is None:
            self._pid_file.unlink(missing_ok=True)
            self._check_ports_free()
            java = require("java")
            libs = self.install()
            self._write_config()
            format_storage(java, libs, self._data, self._properties)
            pid = self._launch(java, libs)
            reused = False
        else:
            reused = True
        self._wait_until_answering(pid, timeout)
        elapsed = time.monotonic() - began
        if reused:
            logger.info("reusing the broker on %s (pid %d)", self._bootstrap, pid)
        else:
            logger.info("broker started on %s in %.1f s", self._bootstrap, elapsed)
        return elapsed

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the broker: SIGTERM, then SIGKILL if it has not exited after ``timeout``.

        Parameters
        ----------
        timeout : float
            Seconds to allow for a clean shutdown.

        Returns
        -------
        bool
            Whether a running broker was stopped.

        Raises
        ------
        BrokerError
            If the process survives SIGKILL.
        """
        pid = self._running_pid()
        if pid is None:
            self._pid_file.unlink(missing_ok=True)
            return False
        _signal(pid, signal.SIGTERM)
        if not self._wait_for_exit(pid, timeout):
            logger.warning("broker pid %d still running %.0f s after SIGTERM; killing it", pid, timeout)
            self._kill(pid, _KILL_TIMEOUT)
        self._gone(pid, "stopped")
        return True

    def kill(self, timeout: float = _KILL_TIMEOUT) -> bool:
        """Kill the broker with SIGKILL, as a crash would: no clean shutdown.

        The log directory stays on disk; the next :meth:`start` recovers it, which
        takes longer than after :meth:`stop`. For tests of what survives a broker crash.

        Parameters
        ----------
        timeout : float
            Seconds to wait for the process to be gone.

        Returns
        -------
        bool
            Whether a running broker was killed.

        Raises
        ------
        BrokerError
            If the process survives SIGKILL.
        """
        pid = self._running_pid()
        if pid is None:
            self._pid_file.unlink(missing_ok=True)
            return False
        self._kill(pid, timeout)
        self._gone(pid, "killed")
        return True

    def status(self) -> BrokerStatus:
        """Report whether the broker runs and answers, without changing anything.

        Returns
        -------
        BrokerStatus
            The process id, if alive, and whether the broker answers a metadata request.
        """
        pid = self._running_pid()
        return BrokerStatus(
            running=pid is not None and self._answers(),
            pid=pid,
            bootstrap_servers=self._bootstrap,
            version=self.version,
            home=self.home,
            log_file=self._log_file,
        )

    def _running_pid(self) -> int | None:
        try:
            pid = int(self._pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if self._alive(pid) else None

    def _alive(self, pid: int) -> bool:
        process = self._process
        if process is not None and process.pid == pid:
            # Our own child: its exit status is authoritative, and polling reaps it. Its
            # command line is no proof: right after the launch it can read as empty.
            return process.poll() is None
        if _PROC.is_dir():
            # The pid file may outlive the broker and its pid be reused; only a process
            # running our configuration counts. A zombie has an empty command line.
            try:
                arguments = (_PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
            except OSError:
                return False
            return os.fsencode(self._properties) in arguments
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True

    def _check_ports_free(self) -> None:
        ports = (self.port, self.controller_port) + ((self.sasl_port,) if self.sasl_port is not None else ())
        for port in ports:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                # Like the JVM's server socket, ignore connections of a previous broker
                # lingering in TIME_WAIT; a listening or bound socket still conflicts.
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind((self.host, port))
                except OSError as exc:
                    raise BrokerError(
                        f"port {port} on {self.host} is in use by another process, not by the "
                        f"streammon broker of {self.home}; stop it or choose another port"
                    ) from exc

    def _write_config(self) -> None:
        self._data.mkdir(parents=True, exist_ok=True)
        properties = server_properties(
            host=self.host,
            port=self.port,
            controller_port=self.controller_port,
            data=self._data,
            sasl_port=self.sasl_port,
            sasl_users=self.sasl_users,
        )
        write_config(self._properties, self._log4j, properties)

    def _launch(self, java: str, libs: Path) -> int:
        command = [
            java,
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            f"-Dlog4j2.configurationFile={self._log4j}",
            "-cp",
            str(libs / "*"),
            "kafka.Kafka",
            str(self._properties),
        ]
        with self._log_file.open("wb") as log:
            # A session of its own: the broker survives the terminal or test run that
            # started it and is not hit by its Ctrl-C.
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self._run,
                start_new_session=True,
            )
        self._pid_file.write_text(f"{self._process.pid}\n")
        return self._process.pid

    def _wait_until_answering(self, pid: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if not self._alive(pid):
                self._pid_file.unlink(missing_ok=True)
                raise BrokerError(
                    f"the Kafka broker on {self._bootstrap} exited while starting; "
                    f"last lines of {self._log_file}:\n{self._log_tail()}"
                )
            if self._answers():
                return
            if time.monotonic() >= deadline:
                raise BrokerError(
                    f"the Kafka broker on {self._bootstrap} (pid {pid}) did not answer within "
                    f"{timeout:.0f} s and is left running; last lines of {self._log_file}:\n"
                    f"{self._log_tail()}"
                )
            time.sleep(_POLL_INTERVAL)

    def _answers(self) -> bool:
        # A plain connect first: it is cheap and silent, whereas the Kafka client logs
        # every refused connection while the broker is still starting.
        try:
            with socket.create_connection((self.host, self.port), timeout=1.0):
                pass
        except OSError:
            return False
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=self._bootstrap,
                client_id="streammon-broker-probe",
                bootstrap_timeout_ms=2000,
                request_timeout_ms=5000,
            )
        except KafkaError:
            return False
        try:
            admin.list_topics()
        except KafkaError:
            return False
        finally:
            admin.close()
        return True

    def _kill(self, pid: int, timeout: float) -> None:
        _signal(pid, signal.SIGKILL)
        # Waits on the process only: a client probing a dying broker could see it half-closed.
        if not self._wait_for_exit(pid, timeout):
            raise BrokerError(f"broker pid {pid} survived SIGKILL")

    def _gone(self, pid: int, how: str) -> None:
        self._pid_file.unlink(missing_ok=True)
        logger.info("broker on %s %s (pid %d)", self._bootstrap, how, pid)

    def _wait_for_exit(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self._alive(pid):
            if time.monotonic() >= deadline:
                return False
            time.sleep(_POLL_INTERVAL)
        return True

    def _log_tail(self) -> str:
        try:
            with self._log_file.open(encoding="utf-8", errors="replace") as log:
                return tail(log)
        except FileNotFoundError:
            return "(no log written)"


def _signal(pid: int, signum: signal.Signals) -> None:
    # The broker may exit on its own between the liveness check and the signal.
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass

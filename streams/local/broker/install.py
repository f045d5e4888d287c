"""The broker's jars, fetched from Maven Central once per Kafka version, and the tools that need them.

Maven copies the runtime dependencies of ``org.apache.kafka:kafka_2.13``, with an
SLF4J API and a log4j2 binding (without one the broker logs nothing), into
``kafka-<version>/libs``. ``java`` and ``mvn`` must be on ``PATH``.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import tempfile
from collections import deque
from collections.abc import Iterable
from pathlib import Path

from streams.errors import BrokerError

__all__ = ["KAFKA_VERSION", "install_jars", "require", "run_tool", "tail"]

KAFKA_VERSION = "4.1.1"

logger = logging.getLogger(__name__)

_INSTALL_HINT = "install it with `apt-get install openjdk-17-jre-headless maven`"
_SLF4J_VERSION = "2.0.16"
_LOG4J_VERSION = "2.24.3"
_MVN_TIMEOUT = 900.0
_LOG_TAIL_LINES = 20
# Maven 3.8 writes colour resets even in batch mode; they would garble error messages.
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")

_POM = """\
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>streammon</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>{kafka}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-api</artifactId>
      <version>{slf4j}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j2-impl</artifactId>
      <version>{log4j}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>{log4j}</version>
    </dependency>
  </dependencies>
</project>
"""


def install_jars(libs: Path, version: str) -> Path:
    """Fetch the jars of Kafka ``version`` into ``libs`` with Maven, unless they are already there.

    Parameters
    ----------
    libs : Path
        The directory to hold the jars (``kafka-<version>/libs``).
    version : str
        The Apache Kafka version.

    Returns
    -------
    Path
        ``libs``.

    Raises
    ------
    BrokerError
        If ``java`` or ``mvn`` is missing, or Maven fails.
    """
    marker = libs / f"kafka_2.13-{version}.jar"
    if marker.is_file():
        return libs
    require("java")
    mvn = require("mvn")
    libs.parent.mkdir(parents=True, exist_ok=True)
    logger.info("installing Kafka %s jars into %s", version, libs)
    # Maven copies into a private directory that is renamed into place only when
    # complete, so an interrupted or concurrent install never leaves a partial libs/.
    with tempfile.TemporaryDirectory(dir=libs.parent, prefix="install-") as build:
        pom = Path(build) / "pom.xml"
        pom.write_text(_POM.format(kafka=version, slf4j=_SLF4J_VERSION, log4j=_LOG4J_VERSION))
        staged = Path(build) / "libs"
        command = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={staged}",
            "-DincludeScope=runtime",
        ]
        what = f"mvn fetching Kafka {version} jars"
        output = run_tool(command, timeout=_MVN_TIMEOUT, what=what)
        if not (staged / marker.name).is_file():
            raise BrokerError(f"mvn did not produce {marker.name}:\n{tail(output.splitlines())}")
        try:
            staged.rename(libs)
        except OSError as exc:
            # Another process installed the same version meanwhile; its jars serve as well.
            if not marker.is_file():
                raise BrokerError(f"cannot move the Kafka jars into {libs}: {exc}") from exc
    return libs


def require(tool: str) -> str:
    """The path of ``tool`` on ``PATH``; :class:`BrokerError` naming how to install it when missing."""
    path = shutil.which(tool)
    if path is None:
        raise BrokerError(f"`{tool}` is not on PATH; the local Kafka broker needs it: {_INSTALL_HINT}")
    return path


def run_tool(command: list[str], *, timeout: float, what: str) -> str:
    """Run ``command`` to completion and return its output; :class:`BrokerError` with its last lines if it fails."""
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise BrokerError(f"{what} took longer than {timeout:.0f} s") from exc
    output = _ANSI_ESCAPE.sub("", result.stdout + result.stderr)
    if result.returncode != 0:
        raise BrokerError(f"{what} failed (exit {result.returncode}):\n{tail(output.splitlines())}")
    return output


def tail(lines: Iterable[str]) -> str:
    """The last lines, for an error message."""
    return "\n".join(line.rstrip("\n") for line in deque(lines, maxlen=_LOG_TAIL_LINES))

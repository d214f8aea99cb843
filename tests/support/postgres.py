"""A throwaway PostgreSQL server: initdb into a temporary directory, serve on 127.0.0.1, remove.

Uses the Debian packages' binaries (``apt-get install postgresql``). PostgreSQL refuses to run
as root, so when the caller is root the server runs as the ``postgres`` system user that the
package creates, and the temporary directory is handed to that user.

Usable from tests (a context manager) and from development scripts (``start()`` / ``close()``).
``stop()`` and ``start()`` keep the data directory, to simulate an outage.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from urllib.parse import quote, urlsplit, urlunsplit

from tests.support.processes import free_port, tail

__all__ = ["LocalPostgres", "PostgresNotInstalled", "find_bindir", "url_with_database"]

_SUPERUSER = "postgres"
_START_TIMEOUT_SECONDS = 60


class PostgresNotInstalled(RuntimeError):
    """The PostgreSQL server binaries are not on this machine."""


def find_bindir() -> Path:
    """The newest Debian PostgreSQL ``bin`` directory, else ``pg_config --bindir``."""
    candidates = sorted(
        (path for path in Path("/usr/lib/postgresql").glob("*/bin") if (path / "initdb").exists()),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1]
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        bindir = Path(
            subprocess.run(
                [pg_config, "--bindir"], check=True, capture_output=True, text=True
            ).stdout.strip()
        )
        if (bindir / "initdb").exists():
            return bindir
    raise PostgresNotInstalled(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql"
    )


def url_with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(database)))


class LocalPostgres:
    """One private PostgreSQL server; ``url`` reaches its ``postgres`` database as superuser."""

    def __init__(self, *, fsync: bool = False, max_connections: int = 200) -> None:
        self._bindir = find_bindir()
        self._fsync = fsync
        self._max_connections = max_connections
        self._runas = _unprivileged_user()
        self._root: Path | None = None
        self.port = free_port()
        self.running = False

    @property
    def url(self) -> str:
        return f"postgresql://{_SUPERUSER}@127.0.0.1:{self.port}/postgres"

    @property
    def version(self) -> str:
        return self._run(["postgres", "--version"]).strip()

    def start(self) -> None:
        """Initialise the data directory on first use, then start the server and wait for it."""
        if self.running:
            return
        if self._root is None:
            self._init()
            atexit.register(self.close)
        root = self._paths()
        options = " ".join(
            [
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={root['sockets']}",
                f"-c max_connections={self._max_connections}",
                f"-c fsync={'on' if self._fsync else 'off'}",
                f"-c synchronous_commit={'on' if self._fsync else 'off'}",
                f"-c full_page_writes={'on' if self._fsync else 'off'}",
            ]
        )
        try:
            self._run(
                [
                    "pg_ctl",
                    "start",
                    "--wait",
                    f"--timeout={_START_TIMEOUT_SECONDS}",
                    "-D",
                    str(root["data"]),
                    "-l",
                    str(root["log"]),
                    "-o",
                    options,
                ]
            )
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(
                f"PostgreSQL did not start: {exc.stderr or exc.stdout}\n{tail(root['log'])}"
            ) from exc
        self.running = True

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are ended), keeping its data."""
        if not self.running:
            return
        self._run(["pg_ctl", "stop", "--wait", "-m", "fast", "-D", str(self._paths()["data"])])
        self.running = False

    def close(self) -> None:
        """Stop the server and remove every file it had."""
        try:
            self.stop()
        finally:
            if self._root is not None:
                shutil.rmtree(self._root, ignore_errors=True)
                self._root = None
                atexit.unregister(self.close)

    def __enter__(self) -> LocalPostgres:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _init(self) -> None:
        self._root = Path(tempfile.mkdtemp(prefix="mc-postgres-"))
        paths = self._paths()
        paths["sockets"].mkdir()
        if self._runas is not None:
            uid, gid = self._runas
            for path in (self._root, paths["sockets"]):
                os.chown(path, uid, gid)
        try:
            self._run(
                [
                    "initdb",
                    "-D",
                    str(paths["data"]),
                    f"--username={_SUPERUSER}",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                ]
            )
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"initdb failed: {exc.stderr or exc.stdout}") from exc

    def _paths(self) -> dict[str, Path]:
        if self._root is None:
            raise RuntimeError("the server has not been initialised; call start() first")
        return {
            "data": self._root / "data",
            "sockets": self._root / "sockets",
            "log": self._root / "postgres.log",
        }

    def _run(self, argv: list[str]) -> str:
        command = [str(self._bindir / argv[0]), *argv[1:]]
        if self._runas is not None:
            command = [
                "setpriv",
                f"--reuid={self._runas[0]}",
                f"--regid={self._runas[1]}",
                "--init-groups",
                *command,
            ]
        result = subprocess.run(
            command,
            check=True,
            capture_output=True,
            text=True,
            cwd=self._root or tempfile.gettempdir(),
            # The server must outlive nothing but us; keep it out of our terminal's signals.
            start_new_session=True,
        )
        return result.stdout


def _unprivileged_user() -> tuple[int, int] | None:
    """(uid, gid) to run the server as when we are root; None when we are not."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(_SUPERUSER)
    except KeyError:
        raise PostgresNotInstalled(
            "running as root needs the 'postgres' system user: apt-get install postgresql"
        ) from None
    return entry.pw_uid, entry.pw_gid

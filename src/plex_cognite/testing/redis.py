"""Run a real, throw-away `redis-server` on a free loopback port, for tests (including outage tests).

The server keeps nothing on disk (`--save "" --appendonly no`), works in its own temporary directory and binds
127.0.0.1 only. `kill()` and `restart()` simulate an outage: `restart()` comes back on the same port, empty.

Example:
    >>> with RedisServer() as server:  # doctest: +SKIP
    ...     cache = RedisCache(server.url)
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from pathlib import Path
from types import TracebackType

__all__ = ["RedisServer", "RedisServerError", "find_redis_server"]

#: Environment variable naming the `redis-server` binary, when it is not on PATH.
REDIS_SERVER_ENV = "PLEX_COGNITE_REDIS_SERVER"


class RedisServerError(RuntimeError):
    """`redis-server` is missing, or did not start or answer in time."""


def find_redis_server() -> str | None:
    """Return the path of the `redis-server` binary ($PLEX_COGNITE_REDIS_SERVER, else PATH), or None."""
    configured = os.environ.get(REDIS_SERVER_ENV)
    if configured:
        return configured if Path(configured).is_file() else shutil.which(configured)
    return shutil.which("redis-server")


def _kill_orphan(process: subprocess.Popen[bytes]) -> None:
    """Last resort when a `RedisServer` is garbage-collected or the interpreter exits without `close()`."""
    if process.poll() is None:
        process.kill()
        process.wait()


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """A `redis-server` child process on 127.0.0.1 with a temporary working directory.

    Args:
        executable: Path of `redis-server`; default: `find_redis_server()`.
        port: TCP port; default: a free one, chosen at the first `start()` and kept across restarts.
        startup_timeout_s: How long `start()` waits for the server to answer PING.

    Raises:
        RedisServerError: The binary is not found.
    """

    host = "127.0.0.1"

    def __init__(
        self, executable: str | None = None, *, port: int | None = None, startup_timeout_s: float = 10.0
    ) -> None:
        found = executable or find_redis_server()
        if found is None:
            raise RedisServerError(
                "redis-server not found: install it (apt-get install redis-server, brew install redis) "
                f"or set {REDIS_SERVER_ENV} to its path"
            )
        self.executable = found
        self._requested_port = port
        self._port: int | None = port
        self.startup_timeout_s = startup_timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        self._dir: Path | None = None

    @property
    def port(self) -> int:
        """The TCP port (known after the first `start()`)."""
        if self._port is None:
            raise RedisServerError("the server has not been started yet")
        return self._port

    @property
    def url(self) -> str:
        """`redis://127.0.0.1:PORT/0`."""
        return f"redis://{self.host}:{self.port}/0"

    @property
    def is_running(self) -> bool:
        """Whether the server process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def directory(self) -> Path:
        """The server's temporary working directory (holds `redis.log`)."""
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="plex-cognite-redis-"))
            weakref.finalize(self, shutil.rmtree, self._dir, ignore_errors=True)
        return self._dir

    def start(self) -> RedisServer:
        """Start the server (a no-op when it runs) and wait until it answers PING.

        Returns:
            self, so that `server = RedisServer().start()` works.

        Raises:
            RedisServerError: It exited or did not answer within `startup_timeout_s`.
        """
        if self.is_running:
            return self
        # A port picked by us can be taken by someone else before the server binds it: pick again (first start only).
        retries = 2 if self._requested_port is None and self._port is None else 0
        if self._port is None:
            self._port = _free_port(self.host)
        for _ in range(retries):
            try:
                self._launch()
                return self
            except RedisServerError:
                self._port = _free_port(self.host)
        self._launch()
        return self

    def _launch(self) -> None:
        log = self.directory / "redis.log"
        args = [
            self.executable,
            "--port", str(self.port),
            "--bind", self.host,
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--logfile", str(log),
        ]  # fmt: skip
        self._process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        weakref.finalize(self, _kill_orphan, self._process)
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                stderr = self._process.stderr.read().decode(errors="replace") if self._process.stderr else ""
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                self._process = None
                raise RedisServerError(f"redis-server exited on port {self.port}: {stderr or tail}".strip())
            if self.ping():
                return
            time.sleep(0.01)
        self.kill()
        raise RedisServerError(f"redis-server did not answer PING on port {self.port} in {self.startup_timeout_s}s")

    def ping(self, timeout_s: float = 0.5) -> bool:
        """Whether the server answers PING (a raw RESP round trip: no client library needed)."""
        if self._port is None:
            return False
        try:
            with socket.create_connection((self.host, self._port), timeout=timeout_s) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop gracefully (SIGTERM; SIGKILL after `timeout_s`). A no-op when not running."""
        self._end(signal.SIGTERM, timeout_s)

    def kill(self) -> None:
        """Kill abruptly (SIGKILL), as in a crash. A no-op when not running."""
        self._end(signal.SIGKILL, 5.0)

    def _end(self, sig: signal.Signals, timeout_s: float) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)  # a paused server would not act on SIGTERM
            process.send_signal(sig)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stderr is not None:
            process.stderr.close()

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open but nothing answers, so clients time out."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Unfreeze a paused server (SIGCONT)."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGCONT)

    def restart(self) -> RedisServer:
        """Stop (if running) and start again on the same port; the data is gone (nothing is persisted)."""
        self.stop()
        return self.start()

    def flushall(self) -> None:
        """Remove every key (FLUSHALL), e.g. between tests sharing one server.

        Raises:
            RedisServerError: The server did not answer +OK.
        """
        with socket.create_connection((self.host, self.port), timeout=5.0) as sock:
            sock.sendall(b"FLUSHALL\r\n")
            answer = sock.recv(64)
        if not answer.startswith(b"+OK"):
            raise RedisServerError(f"FLUSHALL failed: {answer!r}")

    def close(self) -> None:
        """Stop the server and delete its temporary directory."""
        self.stop()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.is_running else "stopped"
        return f"RedisServer(port={self._port}, {state})"

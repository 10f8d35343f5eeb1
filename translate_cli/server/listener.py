"""A listening socket and the uvicorn server that runs an ASGI app on it, with a graceful stop.

The socket is bound (and listening) before uvicorn starts, so the real port is known at once (port 0
picks a free one) and early clients wait in the backlog instead of being refused. uvicorn runs in its
own thread: it installs no signal handlers there, so stopping is ours to decide: SIGINT or SIGTERM
stops accepting, lets requests in flight finish, shuts the app down and returns normally (exit 0);
a second signal stops without waiting.
"""

from __future__ import annotations

import signal
import socket
import threading
import time

import uvicorn

from translate_cli.errors import Interrupted, TcliError


class Listener:
    def __init__(self, app, host: str = "127.0.0.1", port: int = 5000, access_log: bool = False,
                 log_level: str = "warning"):
        self.socket = bind(host, port)
        self.host, self.port = host, self.socket.getsockname()[1]
        config = uvicorn.Config(app, log_level=log_level, access_log=access_log, lifespan="on",
                                timeout_graceful_shutdown=None)
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 300.0) -> None:
        """Run the server in its thread; returns once the app's startup has run and it accepts requests."""
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]},
                                        name="tcli-uvicorn", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if self._thread is None or not self._thread.is_alive():
                raise TcliError(f"the server on {self.url} stopped while starting; see the messages above")
            if time.monotonic() > deadline:
                raise TcliError(f"the server on {self.url} did not start within {timeout:.0f} s")
            time.sleep(0.02)

    def stop(self, force: bool = False) -> None:
        """Ask for a graceful stop (or, with force, one that does not wait for requests in flight)."""
        if force:
            self.server.force_exit = True
        self.server.should_exit = True

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the server thread; True once it has ended."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def run_until_signal(self) -> None:
        """Serve until SIGINT/SIGTERM (main thread only); raises Interrupted when a second signal forced it."""
        forced = False

        def on_signal(_signum, _frame) -> None:
            nonlocal forced
            forced = self.server.should_exit  # a second signal: stop waiting for requests in flight
            self.stop(force=forced)

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.start()
            # Short joins: the main thread wakes for signal handlers between them.
            while not self.join(0.2):
                pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if not self.server.started:
            raise TcliError(f"the server on {self.url} could not start; see the messages above")
        if forced:
            raise Interrupted("stopped without waiting for the requests in flight (second interrupt)")


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (IPv4 or IPv6); a clear error when that is impossible."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        raise TcliError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another --port or "
                        "--host") from None
    sock.setblocking(False)
    return sock

"""A TCP proxy on a free port of 127.0.0.1 in front of a real server (localstripe,
PostgreSQL), which a drill makes slow or cuts:

    with TcpProxy(("127.0.0.1", 5432)) as proxy:
        proxy.delay = 5      # each answer held back 5 s (the request goes through at once)
        proxy.cut()          # every open connection dropped, new ones refused
        proxy.restore()      # listening again on the same port
"""

import socket
import threading
import time


class TcpProxy:
    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.delay = 0.0
        self.connections_made = 0
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()

    def __enter__(self):
        self.restore()
        return self

    def __exit__(self, *exc):
        self.cut()
        for thread in self._threads:
            thread.join(timeout=10)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener = listener
        self._start(self._accept, listener)

    def cut(self) -> None:
        """Refuse new connections and drop every open one, as a server that dies would."""
        listener, self._listener = self._listener, None
        if listener is not None:
            _close(listener)
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            _close(sock)

    def _start(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if self._listener is not listener:
                    _close(client), _close(server)
                    return
                self._sockets |= {client, server}
                self.connections_made += 1
            asked = threading.Event()  # set when the client has sent something not yet answered
            self._start(self._pump, client, server, asked, False)
            self._start(self._pump, server, client, asked, True)

    def _pump(self, source: socket.socket, target: socket.socket, asked: threading.Event, answers: bool) -> None:
        try:
            while data := source.recv(65536):
                if answers:
                    if asked.is_set() and self.delay:
                        time.sleep(self.delay)  # the request went through; its answer comes late
                    asked.clear()
                else:
                    asked.set()
                target.sendall(data)
        except OSError:
            pass
        finally:
            _close(source), _close(target)
            with self._lock:
                self._sockets -= {source, target}


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()

"""A free TCP port on 127.0.0.1, for a server started on this machine (``make run``'s store, a load run, a test)."""

import socket


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port

"""Chalice's local server (``chalice local``'s code path), with Nagle's algorithm off on every connection,
a listen backlog an IdP's burst fits in, and HEAD answered without a body.

The handler writes a response's headers and its body in two writes. With Nagle on, the body
waits for the client to acknowledge the headers, and a keep-alive client delays that ACK by
about 40 ms: every request on a reused connection stalled 43 ms (22 req/s on
/ServiceProviderConfig, instead of about 1 ms a request).
"""

import functools
import socket
from pathlib import Path
from typing import Any

from chalice.cli import create_local_server
from chalice.cli.factory import CLIFactory
from chalice.local import ChaliceRequestHandler, LocalDevServer


class NoDelayRequestHandler(ChaliceRequestHandler):
    """Sets TCP_NODELAY on the accepted connection (``socketserver.StreamRequestHandler.setup``)."""

    disable_nagle_algorithm = True

    def _send_http_response_with_body(self, code: int, headers: Any, body: str | bytes) -> None:
        """A HEAD answer has the GET's headers and no body (RFC 9110 §9.3.2): a body sent after it was read by a
        keep-alive client as the start of the next response."""
        if self.command != "HEAD":
            super()._send_http_response_with_body(code, headers, body)
            return
        self.send_response(code)
        self.send_header("Content-Length", str(len(body.encode() if isinstance(body, str) else body)))
        self.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
        self._send_headers(headers)


LISTEN_BACKLOG = socket.SOMAXCONN
"""Connections the kernel queues before the server accepts them: socketserver's 5 reset some of 20 IdP clients
connecting at once."""


def local_server(project_dir: Path, host: str, port: int, stage: str) -> LocalDevServer:
    """The app of ``project_dir`` on ``host:port``, bound and ready for ``serve_forever``."""
    server = create_local_server(CLIFactory(str(project_dir)), host, port, stage)
    handler = server.server.RequestHandlerClass
    # Chalice binds its handler to the app and config with functools.partial: keep both, change the class.
    assert isinstance(handler, functools.partial), handler
    server.server.RequestHandlerClass = functools.partial(NoDelayRequestHandler, *handler.args, **handler.keywords)
    # The server listens as it is built, with socketserver's backlog of 5: listening again sets the new one.
    server.server.request_queue_size = LISTEN_BACKLOG
    server.server.socket.listen(LISTEN_BACKLOG)
    return server

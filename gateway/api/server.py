"""The HTTP server: waitress, with its own answers in the dialect's shape and idle clients shed.

Why not plain ``waitress.create_server``: waitress answers some requests itself, before any
WSGI app sees them (a body over ``max_request_body_size``, a bad Content-Length, broken
chunking, headers over ``max_request_header_size``, an unsupported Transfer-Encoding), and
those answers are plain text. A client of the Infobip-style API must get the
``{"requestError": ...}`` envelope for every refusal, so the error task here renders the
error shape of the dialect the request line names (``gateway.api.http.error_shape_for``).

And waitress stops accepting when ``connection_limit`` connections are open: ~100 idle
half-open sockets, which cost a scanner nothing, starved ``/health`` until waitress's
``channel_timeout`` (120 s by default) closed them. Here the timeouts are configuration
(``http.channel_timeout``, ``http.cleanup_interval``) and, while the server is full, the
connection idle the longest without a request in progress is closed to make room: a slow or
silent client can hold a slot only until somebody else needs it.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import bottle
from waitress import trigger, wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import MultiSocketServer, TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher

from gateway.api.http import INTERNAL_ERROR_TEXT, ApiPlugin, Reply, error_shape_for, render
from gateway.api.parsing import MAX_BODY_BYTES
from gateway.logsafe import shown

log = logging.getLogger(__name__)

# waitress's own body limit, a margin above ours: a chunked body's framing counts against it, and
# a Content-Length between the two reaches gateway.api.parsing, which refuses it with our text.
SERVER_BODY_LIMIT = MAX_BODY_BYTES + 64 * 1024
# Request line plus headers. A real client sends well under 8 KiB; waitress's default is 256 KiB.
MAX_HEADER_BYTES = 32 * 1024
_REQUEST_LINE = re.compile(rb"\s*([!-~]{1,20}) +([!-~]{1,2000})")


@dataclass(frozen=True)
class ServerOptions:
    """What ``http.*`` sets on the server (docs/configuration.md)."""

    host: str = "127.0.0.1"
    port: int = 8080
    threads: int = 16
    # Seconds a connection without a request in progress stays open (waitress: 120).
    channel_timeout: float = 30.0
    # Open connections at most; when full, the idlest one is closed for a new one.
    connection_limit: int = 100
    # Seconds between sweeps for connections past ``channel_timeout`` (waitress: 30).
    cleanup_interval: float = 5.0


def _edge_text(code: int, detail: str) -> str:
    """What the client reads; waitress's own wording names its internal limits, not ours."""
    if code == 413:
        return f"request body too large: at most {MAX_BODY_BYTES} bytes"
    if code == 431:
        return f"request header fields too large: at most {MAX_HEADER_BYTES} bytes in all"
    if code == 501:
        return f"not implemented: {shown(detail, 100)} (only chunked Transfer-Encoding is)"
    if code >= 500:
        return INTERNAL_ERROR_TEXT
    return f"malformed HTTP request: {shown(detail, 100)}"


def _request_target(request: Any) -> tuple[str, str]:
    """(method, path) of the request waitress refused, as far as it read it.

    After a 431 waitress replaces the request line by ``GET /``; what it buffered of the real
    one (``header_plus``) still names the path, which picks the dialect.
    """
    for raw in (getattr(request, "header_plus", b""), getattr(request, "first_line", b"")):
        match = _REQUEST_LINE.match(raw or b"")
        if match:
            method, target = (part.decode("latin-1") for part in match.groups())
            return method, target.split("?", 1)[0]
    return "", "/"


class EnvelopeErrorTask(ErrorTask):  # type: ignore[misc]
    """waitress's error answer, in the shape of the dialect the request was for."""

    def execute(self) -> None:
        error = self.request.error
        method, path = _request_target(self.request)
        text = _edge_text(error.code, str(error.body))
        log.info("%d on %s %s (refused by the HTTP server): %s", error.code, method or "-",
                 shown(path), shown(error.body, 200))
        shape: ApiPlugin = error_shape_for(self.channel.server.application_root, path) \
            or _NEUTRAL
        answer: bottle.HTTPResponse = render(shape.error_reply(error.code, text),
                                             self.request.headers.get("ACCEPT"))
        body = answer.body if isinstance(answer.body, bytes) else str(answer.body).encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.extend(
            (k, v) for k, v in answer.headerlist if k.lower() not in ("content-length", "connection"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


def _neutral(status: int, text: str) -> Reply:
    """For an app not built by ``new_dialect_app`` (no error shape of its own)."""
    return Reply({"error": {"status": status, "text": text}})


_NEUTRAL = ApiPlugin(_neutral)


class EnvelopeChannel(HTTPChannel):  # type: ignore[misc]
    error_task_class = EnvelopeErrorTask


class GuardedServer(TcpWSGIServer):  # type: ignore[misc]
    """A TCP waitress server that never stops accepting because idle clients fill it."""

    channel_class = EnvelopeChannel

    def __init__(self, application: Any, *args: Any, root: bottle.Bottle | None = None,
                 **kwargs: Any) -> None:
        self.application_root = root if root is not None else application
        super().__init__(application, *args, **kwargs)

    def readable(self) -> bool:
        accepting = bool(super().readable())
        if self.accepting and self.in_connection_overflow:
            self._shed_idlest()
        return accepting

    def _shed_idlest(self) -> None:
        """Close the connection idle longest without a request being served, one at a time."""
        idlest = None
        for channel in list(self.active_channels.values()):
            if channel.will_close or channel.close_when_flushed:
                return  # one is already on its way out; room comes when it is closed
            if channel.requests:
                continue
            if idlest is None or channel.last_activity < idlest.last_activity:
                idlest = channel
        if idlest is not None:
            log.warning("connection limit (%d) reached: closing the connection idle longest, "
                        "from %s", self.adj.connection_limit, shown(idlest.addr))
            idlest.will_close = True


def create_server(app: bottle.Bottle, options: ServerOptions, **extra: Any) -> Any:
    """A bound, listening waitress server for ``app`` (``run()`` serves, ``close()`` stops).

    ``extra``: further waitress adjustments (tests shorten ``asyncore_loop_timeout``).
    """
    adj = Adjustments(
        host=options.host, port=options.port, threads=options.threads,
        channel_timeout=options.channel_timeout, connection_limit=options.connection_limit,
        cleanup_interval=options.cleanup_interval,
        max_request_body_size=SERVER_BODY_LIMIT, max_request_header_size=MAX_HEADER_BYTES,
        ident="simgate", **extra,
    )
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(adj.threads)
    socket_map: dict[int, Any] = {}
    servers: list[GuardedServer] = []
    try:
        for info in adj.listen:  # "localhost" may be two sockets (IPv4 and IPv6)
            servers.append(GuardedServer(app, socket_map, dispatcher=dispatcher, adj=adj,
                                         sockinfo=info, root=app))
    except BaseException:
        for server in servers:
            server.close()
        dispatcher.shutdown()
        raise
    if len(servers) == 1:
        return servers[0]
    return MultiSocketServer(socket_map, adj,
                             [(s.effective_host, s.effective_port) for s in servers], dispatcher,
                             log_info=servers[-1].log_info)


def stop_server(server: Any) -> None:
    """Stop a server whose ``run()`` is serving in another thread, without racing it.

    ``server.close()`` from another thread closes sockets under the loop's ``select`` (EBADF in
    the serving thread); here the loop closes every socket itself, then ``run()`` returns.
    Worker threads are stopped after that (``task_dispatcher.shutdown()``).
    """
    socket_map = server.map if isinstance(server, MultiSocketServer) else server._map
    pulls = [d for d in list(socket_map.values()) if isinstance(d, trigger.trigger)]
    if pulls:
        pulls[0].pull_trigger(lambda: wasyncore.close_all(socket_map, ignore_all=True))

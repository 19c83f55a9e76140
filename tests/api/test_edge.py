"""The served app at the socket: what waitress refuses itself has the dialect's error envelope
(issue 10 item 11), and idle connections cannot starve /health (issue 10 item 12).

Raw sockets, because http.client will not send a broken Content-Length or broken chunking.
"""
from __future__ import annotations

import base64
import json
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator
from xml.etree import ElementTree

import pytest

from bench.hostile import read_to_eof
from gateway.api import build_app
from gateway.api.parsing import MAX_BODY_BYTES
from gateway.api.server import MAX_HEADER_BYTES, ServerOptions, create_server, stop_server
from gateway.service import Gateway
from tests.api.conftest import ALICE

SEND = "/restapi/sms/1/text/single"
AUTH = "Authorization: Basic " + base64.b64encode(":".join(ALICE).encode()).decode()


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def serve(gateway: Gateway, options: ServerOptions) -> Iterator[tuple[str, int]]:
    srv: Any = create_server(build_app(gateway), options, asyncore_loop_timeout=0.05)
    thread = threading.Thread(target=srv.run, name="test-waitress", daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", srv.effective_port
    finally:
        stop_server(srv)
        thread.join(5)
        srv.task_dispatcher.shutdown()
        assert not thread.is_alive()


@pytest.fixture
def server(gateway: Gateway) -> Iterator[tuple[str, int]]:
    yield from serve(gateway, ServerOptions(port=0, threads=2))


def exchange(address: tuple[str, int], *parts: bytes) -> Answer:
    """Send ``parts`` (stopping quietly if the server already closed), read the answer to EOF."""
    with socket.create_connection(address, timeout=10) as sock:
        for part in parts:
            try:
                sock.sendall(part)
            except (BrokenPipeError, ConnectionResetError):
                break
        data = read_to_eof(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return Answer(int(status_line.split()[1]), headers, body)


def request_head(path: str, *headers: str, method: str = "POST") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: localhost", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def service_exception(answer: Answer) -> dict[str, Any]:
    assert answer.headers["content-type"].startswith("application/json"), answer
    return answer.json["requestError"]["serviceException"]  # type: ignore[no-any-return]


def test_a_declared_body_over_the_cap_is_a_413_in_the_envelope(server: tuple[str, int]) -> None:
    answer = exchange(server, request_head(SEND, "Content-Type: application/json",
                                           "Content-Length: 5000000"))
    assert answer.status == 413
    assert service_exception(answer) == {
        "messageId": "PAYLOAD_TOO_LARGE",
        "text": f"request body too large: at most {MAX_BODY_BYTES} bytes"}
    assert answer.headers["connection"] == "close"
    assert int(answer.headers["content-length"]) == len(answer.body)


def test_a_chunked_body_over_the_cap_is_a_413_in_the_envelope(server: tuple[str, int]) -> None:
    chunk = b"%x\r\n%s\r\n" % (64 * 1024, b"a" * 64 * 1024)
    parts = [request_head(SEND, "Content-Type: application/json", "Transfer-Encoding: chunked")]
    parts += [chunk] * 20  # 1.25 MiB
    answer = exchange(server, *parts)
    assert answer.status == 413
    assert service_exception(answer)["messageId"] == "PAYLOAD_TOO_LARGE"


def test_a_body_just_over_our_cap_but_under_waitresss_has_the_same_answer(
        server: tuple[str, int]) -> None:
    size = MAX_BODY_BYTES + 10
    answer = exchange(server, request_head(SEND, "Content-Type: application/json", AUTH,
                                           "Connection: close", f"Content-Length: {size}")
                      + b"x" * size)
    assert answer.status == 413
    assert service_exception(answer)["messageId"] == "PAYLOAD_TOO_LARGE"


@pytest.mark.parametrize("length", ["abc", "-5", "12, 13", "+7"])
def test_a_bad_content_length_is_a_400_in_the_envelope(server: tuple[str, int], length: str) -> None:
    answer = exchange(server, request_head(SEND, "Content-Type: application/json",
                                           f"Content-Length: {length}") + b"{}")
    assert answer.status == 400
    exception = service_exception(answer)
    assert exception["messageId"] == "BAD_REQUEST"
    assert exception["text"].startswith("malformed HTTP request: ")


@pytest.mark.parametrize("body", [b"zz\r\n{}\r\n0\r\n\r\n", b"2\r\n{}XX0\r\n\r\n",
                                  b"-1\r\n{}\r\n0\r\n\r\n"])
def test_broken_chunking_is_a_400_in_the_envelope(server: tuple[str, int], body: bytes) -> None:
    answer = exchange(server, request_head(SEND, "Content-Type: application/json",
                                           "Transfer-Encoding: chunked") + body)
    assert answer.status == 400
    assert service_exception(answer)["messageId"] == "BAD_REQUEST"


def test_an_unsupported_transfer_encoding_is_a_501_in_the_envelope(server: tuple[str, int]) -> None:
    answer = exchange(server, request_head(SEND, "Content-Type: application/json",
                                           "Transfer-Encoding: gzip") + b"{}")
    assert answer.status == 501
    assert service_exception(answer)["messageId"] == "NOT_IMPLEMENTED"


def test_headers_over_the_limit_are_a_431_in_the_envelope_of_the_path(
        server: tuple[str, int]) -> None:
    junk = "X-Junk: " + "a" * (MAX_HEADER_BYTES + 1000)
    answer = exchange(server, request_head(SEND, junk))
    assert answer.status == 431
    exception = service_exception(answer)
    assert exception["messageId"] == "GENERAL_ERROR"
    assert exception["text"] == (f"request header fields too large: at most {MAX_HEADER_BYTES} "
                                 "bytes in all")
    # The root app's neutral shape outside a dialect's prefix.
    root = exchange(server, request_head("/health", junk, method="GET"))
    assert root.status == 431 and root.json["error"]["status"] == 431


def test_the_envelope_follows_accept_xml(server: tuple[str, int]) -> None:
    answer = exchange(server, request_head(SEND, "Accept: application/xml",
                                           "Content-Length: 5000000"))
    assert answer.status == 413 and answer.headers["content-type"].startswith("application/xml")
    exception = ElementTree.fromstring(answer.body).find("serviceException")
    assert exception is not None and exception.findtext("messageId") == "PAYLOAD_TOO_LARGE"


def test_a_garbage_request_line_is_a_400_in_the_neutral_shape(server: tuple[str, int]) -> None:
    answer = exchange(server, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n")
    assert answer.status == 400
    assert answer.json["error"]["status"] == 400


# --- issue 10 item 12: idle connections ------------------------------------------------------


def get_health(address: tuple[str, int], timeout: float) -> int:
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(request_head("/health", "Connection: close", method="GET"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1])


def test_more_idle_connections_than_the_limit_do_not_starve_health(gateway: Gateway) -> None:
    """Before: 100 silent sockets filled waitress's connection limit and /health timed out
    until the idle ones hit waitress's 120 s channel timeout. The channel timeout here is long
    (60 s), so only shedding the idlest connection can let /health in."""
    options = ServerOptions(port=0, threads=2, connection_limit=10, channel_timeout=60.0)
    for address in serve(gateway, options):
        idle = [socket.create_connection(address, timeout=5) for _ in range(25)]
        try:
            started = time.monotonic()
            assert get_health(address, timeout=5.0) in (200, 503)
            assert time.monotonic() - started < 5.0
            # And again, with the server still full of idle sockets.
            assert get_health(address, timeout=5.0) in (200, 503)
        finally:
            for sock in idle:
                sock.close()


def test_idle_connections_are_closed_after_the_channel_timeout(gateway: Gateway) -> None:
    options = ServerOptions(port=0, threads=2, channel_timeout=0.3, cleanup_interval=0.1)
    for address in serve(gateway, options):
        with socket.create_connection(address, timeout=10) as sock:
            started = time.monotonic()
            assert sock.recv(1) == b""  # the server closed it
            assert time.monotonic() - started < 5.0


@pytest.mark.parametrize("path", ["/restapi/sms/1/logs/%E2%80%A8", "/restapi/%E2%82%AC",
                                  "/restapi/sms/1/logs/%C3%A9"])
def test_a_non_latin1_path_under_a_dialect_is_a_404_not_a_500(server: tuple[str, int],
                                                              path: str) -> None:
    """Found by bench/hostile.py: bottle decoded the path twice for a mounted app."""
    answer = exchange(server, request_head(path, AUTH, "Connection: close", method="GET"))
    assert answer.status == 404
    assert service_exception(answer)["messageId"] == "NOT_FOUND"

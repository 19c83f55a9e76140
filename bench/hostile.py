"""Issue 10 "Done means", rerun: a hostile client against a real ``simgate run``.

Four figures, each from the same method as the issue's reproductions:

- fuzz: N requests over raw sockets (random methods and paths, query strings with invalid UTF-8,
  bad JSON and XML bodies, UTF-16 DTDs, huge headers, broken Content-Length and chunking), half
  of them with valid credentials so the parsers behind the login are reached. Counted: answers
  by status; ``fuzz_500`` and ``fuzz_5xx_unexpected`` (500/502/504, and connections reset or
  timed out) must be 0. 501 (an unknown Transfer-Encoding, a feature not configured) and 503
  (too many password checks at once) are deliberate answers and counted apart.
- RSS while 16 clients send wrong logins for made-up users at once (each a full scrypt check:
  the issue saw 40 -> 296 MB, kept).
- RSS after 300 log queries with ``messageId`` lists of every length up to the 100-id cap (the
  issue: ~4 MB kept per distinct length; 300 requests -> 1.3 GB).
- acknowledged messages lost: messages answered 200 while the fuzz runs, then SIGKILL, then
  each acknowledged messageId looked up in the database file.

``BENCH_FUZZ_REQUESTS`` sets N (default 4,000; the issue used 40,000). The gateway runs with
``MALLOC_ARENA_MAX=2`` as the systemd unit sets it (``BENCH_MALLOC_ARENA_MAX`` overrides; empty:
glibc's default). ``BENCH_GATEWAY_LOG=FILE`` keeps the gateway's log, to read a 500's cause.
"""
from __future__ import annotations

import base64
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

USER, PASSWORD = "hostile", "hostile-password-1"
AUTH = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
ROUTES = (
    ("POST", "/restapi/sms/1/text/single"), ("POST", "/restapi/sms/1/text/multi"),
    ("POST", "/restapi/sms/1/binary/single"), ("POST", "/restapi/sms/1/binary/multi"),
    ("POST", "/restapi/sms/1/text/advanced"), ("GET", "/restapi/sms/1/reports"),
    ("GET", "/restapi/sms/1/logs"), ("GET", "/restapi/sms/1/inbox/reports"),
    ("GET", "/restapi/sms/1/inbox/logs"), ("GET", "/restapi/account/1/balance"),
    ("GET", "/health"), ("GET", "/health/ready"),
)
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "BREW", "G\x01T")
BAD_ESCAPES = ("%ff", "%c3%28", "%ed%a0%80", "%f8%88%80%80%80", "%00", "%e2%80%a8", "%", "%zz")
QUERY_KEYS = ("limit", "messageId", "bulkId", "sentSince", "sentUntil", "from", "to",
              "generalStatus", "keyword", "receivedSince", "x")
TIMEOUT = 15.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# --- the hostile requests --------------------------------------------------------------------


def _json_bodies(rng: random.Random) -> bytes:
    good = {"from": "InfoSMS", "to": "41793026727", "text": "fuzz"}
    choices: list[Callable[[], bytes]] = [
        lambda: json.dumps(good).encode()[: rng.randrange(1, 50)],  # truncated
        lambda: b"[" * 100_000 + b"]" * 100_000,  # nesting
        lambda: b'{"to": "41793026727", "text": "x", "validityPeriod": ' + b"9" * 5000 + b"}",
        lambda: b'{"to": NaN, "text": Infinity}',
        lambda: b'{"to": "41793026727", "text": "\\ud800"}',
        lambda: b'{"to": "41793026727", "text": "\xff\xfe"}',
        lambda: json.dumps({**good, "flsh": True, "validityPeriods": 5}).encode(),
        lambda: json.dumps({**good, "to": [rng.choice([5, None, {}, [], "x" * 300, "+٤١٧٩"])]}).encode(),
        lambda: json.dumps({"messages": [{"destinations": [{"to": "41793026727",
                                                             "messageId": "a\nb"}], "text": "x"}]}).encode(),
        lambda: json.dumps({"binary": {"hex": "05 00 03", "esmClass": 64}, "to": "41793026727"}).encode(),
        lambda: json.dumps({"binary": {"hex": "zz"}, "to": "41793026727"}).encode(),
        lambda: json.dumps({**good, "from": "InfoSMS\n"}).encode(),
        lambda: json.dumps({"messages": [{"to": [f"4179{i:07d}" for i in range(2000)], "text": "x"}] * 6}).encode(),
        lambda: b"null", lambda: b"[]", lambda: b"\"text\"", lambda: b"",
        lambda: bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))),
    ]
    return rng.choice(choices)()


def _xml_bodies(rng: random.Random) -> bytes:
    laughs = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;'
              b'&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]><request><to>41793026727</to>'
              b'<text>&c;</text></request>')
    utf16 = ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY x "boom">]>'
             '<request><to>41793026727</to><text>&x;</text></request>').encode("utf-16")
    choices = [
        laughs, utf16,
        b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "file:///etc/passwd"><request/>',
        b"<request><to>41793026727</to><text>unclosed",
        b"<request>" + b"<a>" * 50_000 + b"</a>" * 50_000 + b"</request>",
        b"<request><to><to>1</to></to><flash>maybe</flash><text>x</text></request>",
        b"\xff\xfe<\x00r\x00",
    ]
    return rng.choice(choices)


def _query(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randrange(1, 5)):
        key = rng.choice(QUERY_KEYS)
        kind = rng.randrange(6)
        if kind == 0:
            value = rng.choice(BAD_ESCAPES) * rng.randrange(1, 4)
        elif kind == 1:
            value = ",".join(f"id{rng.randrange(10**6)}" for _ in range(rng.choice((1, 50, 100, 101, 5000))))
        elif kind == 2:
            value = rng.choice(("0", "-1", "abc", "99999999999", "1e3", "", "１２"))
        elif kind == 3:
            value = rng.choice(("2015-13-45", "2015-02-22T17:42:05.390+01:00", "x" * 500, "2015-02-22 25:00"))
        else:
            value = "".join(rng.choice("abc%+&=;/?#[]") for _ in range(rng.randrange(1, 20)))
        parts.append(f"{key}={value}")
    return "&".join(parts)


def _request(rng: random.Random) -> tuple[bytes, bool]:
    """(raw request bytes, half-close after sending). Always ``Connection: close``."""
    method, path = rng.choice(ROUTES)
    kind = rng.randrange(10)
    headers = ["Host: localhost", "Connection: close"]
    if rng.random() < 0.5:
        headers.append(f"Authorization: {AUTH}")
    elif rng.random() < 0.3:
        headers.append("Authorization: Basic " + rng.choice(("!!!", "Zm9v", base64.b64encode(
            ("u" * 200_000 + ":x").encode()).decode()[:30_000])))
    if rng.random() < 0.3:
        headers.append(f"Accept: {rng.choice(('application/xml', 'text/xml;q=bogus', '*/*'))}")
    body = b""
    half_close = False
    if kind == 0:  # random method and path
        method = rng.choice(METHODS)
        path = rng.choice(("/", "/restapi", "/restapi/", "/restapi/sms/1/" + "x" * rng.randrange(5000),
                           "/%ff", "/restapi/../../etc/passwd", "//health", "/health/%c3%28",
                           "/restapi/sms/1/logs/" + rng.choice(BAD_ESCAPES), "*"))
    elif kind == 1:  # query strings
        method = "GET"
        path = rng.choice([p for m, p in ROUTES if m == "GET"]) + "?" + _query(rng)
    elif kind in (2, 3, 4):  # JSON bodies
        method = "POST"
        path = rng.choice([p for m, p in ROUTES if m == "POST"])
        body = _json_bodies(rng)
        headers.append(rng.choice(("Content-Type: application/json", "Content-Type: application/json",
                                   "Content-Type: text/plain", "Content-Type: application/json; charset=latin-1")))
    elif kind == 5:  # XML bodies
        method = "POST"
        path = rng.choice([p for m, p in ROUTES if m == "POST"])
        body = _xml_bodies(rng)
        headers.append(rng.choice(("Content-Type: application/xml", "Content-Type: text/xml")))
    elif kind == 6:  # huge or many headers
        if rng.random() < 0.5:
            headers.append("X-Junk: " + "a" * rng.choice((10_000, 40_000, 300_000)))
        else:
            headers += [f"X-H{i}: {i}" for i in range(rng.choice((100, 2000)))]
    elif kind == 7:  # broken framing
        method = "POST"
        path = rng.choice([p for m, p in ROUTES if m == "POST"])
        headers.append("Content-Type: application/json")
        choice = rng.randrange(6)
        if choice == 0:
            headers.append(f"Content-Length: {rng.choice(('abc', '-5', '1, 2', '+3', '9' * 30))}")
            body = b"{}"
        elif choice == 1:
            headers.append("Transfer-Encoding: chunked")
            body = rng.choice((b"zz\r\n{}\r\n0\r\n\r\n", b"2\r\n{}XX0\r\n\r\n", b"-1\r\n{}\r\n"))
        elif choice == 2:
            headers.append(f"Transfer-Encoding: {rng.choice(('gzip', 'chunked, gzip', 'identity'))}")
            body = b"{}"
        elif choice == 3:
            headers.append("Content-Length: 5000000")
        elif choice == 4:
            headers += ["Content-Length: 2", "Transfer-Encoding: chunked"]
            body = b"2\r\n{}\r\n0\r\n\r\n"
        else:  # promises more than it sends, then half-closes
            headers.append("Content-Length: 100")
            body = b"{}"
            half_close = True
    else:  # a plausible request with one odd field
        method = "POST"
        path = "/restapi/sms/1/text/single"
        headers.append("Content-Type: application/json")
        body = json.dumps({"to": "41793026727", "text": rng.choice(("ok", "é" * 400, "\x00", "😀" * 100)),
                           "from": rng.choice(("InfoSMS", "12", "x" * 12, None))}).encode()
    if body and not any(h.lower().startswith(("content-length", "transfer-encoding")) for h in headers):
        headers.append(f"Content-Length: {len(body)}")
    head = f"{method} {path} HTTP/1.1\r\n" + "\r\n".join(headers) + "\r\n\r\n"
    return head.encode("utf-8", "surrogateescape") + body, half_close


def read_to_eof(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (a reset ends it too: waitress may reset
    after answering a request it refused)."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def _exchange(port: int, raw: bytes, half_close: bool) -> int | str:
    """The answer's status, or why there was none ("reset", "timeout", "empty")."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
            try:
                sock.sendall(raw)
                if half_close:
                    sock.shutdown(socket.SHUT_WR)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered early and closed; read what it said
            data = read_to_eof(sock)
    except socket.timeout:
        return "timeout"
    except ConnectionError:
        return "reset"
    if not data:
        return "empty" if half_close else "reset"
    try:
        return int(data.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return "garbled"


# --- the phases ------------------------------------------------------------------------------


def _post(port: int, body: dict[str, object], auth: str = AUTH) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/restapi/sms/1/text/single", data=json.dumps(body).encode(),
        headers={"Authorization": auth, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {}


def _get(port: int, path: str, auth: str = AUTH) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": auth})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as resp:
            resp.read()
            return resp.status
    except urllib.error.HTTPError as exc:
        exc.read()
        return exc.code


def _fuzz(port: int, count: int, seed: int) -> Counter[int | str]:
    rngs = [random.Random(seed * 1000 + i) for i in range(count)]
    with ThreadPoolExecutor(8) as pool:
        return Counter(pool.map(lambda rng: _exchange(port, *_request(rng)), rngs))


def _acknowledged_while(port: int, stop: threading.Event, acked: list[str]) -> None:
    i = 0
    while not stop.is_set():
        status, answer = _post(port, {"to": f"4179{i:07d}", "text": f"acked {i}"})
        if status == 200:
            acked.extend(str(m["messageId"]) for m in answer["messages"])  # type: ignore[index, union-attr]
        i += 1


def _wrong_logins(port: int, clients: int, seconds: float, pid: int) -> tuple[float, Counter[int]]:
    statuses: Counter[int] = Counter()
    stop = time.monotonic() + seconds
    peak = [0.0]

    def client(n: int) -> None:
        i = 0
        while time.monotonic() < stop:
            name = f"nobody{n}x{i}"  # made-up users: each one a full (dummy) hash check
            token = "Basic " + base64.b64encode(f"{name}:wrong-password".encode()).decode()
            statuses[_get(port, "/restapi/sms/1/logs", token)] += 1
            i += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        peak[0] = max(peak[0], _rss_mib(pid))
        time.sleep(0.05)
    for t in threads:
        t.join()
    return peak[0], statuses


def _id_list_queries(port: int, count: int) -> Counter[int]:
    statuses: Counter[int] = Counter()
    for i in range(count):
        n = 1 + i % 100  # every list length up to the cap: the one-statement-per-length
        ids = ",".join(f"{i:04d}-{j:03d}-not-a-real-id" for j in range(n))
        statuses[_get(port, f"/restapi/sms/1/logs?messageId={ids}")] += 1
    return statuses


def run(fuzz_requests: int | None = None, seed: int = 10) -> dict[str, float]:
    count = fuzz_requests or int(os.environ.get("BENCH_FUZZ_REQUESTS", "4000"))
    with tempfile.TemporaryDirectory() as tmp:
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIMGATE_")}
        env.update(SIMGATE_STATE_DIR=tmp, SIMGATE_HTTP_PORT=str(port), SIMGATE_EMULATOR_TIMING="fast",
                   SIMGATE_LOG_LEVEL="ERROR")
        # As systemd/simgate.service runs it; BENCH_MALLOC_ARENA_MAX="" measures glibc's default.
        arenas = os.environ.get("BENCH_MALLOC_ARENA_MAX", "2")
        if arenas:
            env["MALLOC_ARENA_MAX"] = arenas
        else:
            env.pop("MALLOC_ARENA_MAX", None)
        cmd = [sys.executable, "-m", "gateway.cli"]
        subprocess.run([*cmd, "user", "add", USER, "--password", PASSWORD], env=env, check=True,
                       capture_output=True)
        log_path = os.environ.get("BENCH_GATEWAY_LOG")  # the gateway's log, to read a 500's cause
        sink = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
        proc = subprocess.Popen([*cmd, "run"], env=env, stdout=sink, stderr=subprocess.STDOUT)
        try:
            _wait_until_up(port, proc)
            out: dict[str, float] = {"rss_idle_mib": _rss_mib(proc.pid)}

            acked: list[str] = []
            stop = threading.Event()
            sender = threading.Thread(target=_acknowledged_while, args=(port, stop, acked))
            sender.start()
            t0 = time.perf_counter()
            statuses = _fuzz(port, count, seed)
            out["fuzz_seconds"] = time.perf_counter() - t0
            stop.set()
            sender.join()
            out["fuzz_requests"] = float(count)
            for status in sorted(statuses, key=str):
                out[f"fuzz_status_{status}"] = float(statuses[status])
            out["fuzz_500"] = float(statuses[500])
            out["fuzz_5xx_unexpected"] = float(sum(statuses[s] for s in (500, 502, 504, "reset",
                                                                         "timeout", "garbled")))
            out["rss_after_fuzz_mib"] = _rss_mib(proc.pid)

            before = _rss_mib(proc.pid)
            peak, logins = _wrong_logins(port, 16, 10.0, proc.pid)
            out["logins_wrong_sent"] = float(sum(logins.values()))
            out["logins_answered_401"] = float(logins[401])
            out["logins_answered_503"] = float(logins[503])
            out["rss_before_logins_mib"] = before
            out["rss_peak_16_wrong_logins_mib"] = peak
            out["rss_after_16_wrong_logins_mib"] = _rss_mib(proc.pid)

            queries = _id_list_queries(port, 300)
            out["id_list_queries_200"] = float(queries[200])
            out["rss_after_300_id_list_queries_mib"] = _rss_mib(proc.pid)
            over = _get(port, "/restapi/sms/1/logs?messageId=" + ",".join(str(i) for i in range(101)))
            out["id_list_101_ids_status"] = float(over)

            out["acknowledged"] = float(len(acked))
            proc.send_signal(signal.SIGKILL)  # a crash: what was answered 200 must be on disk
            proc.wait(30)
            out["acknowledged_lost"] = float(_lost(Path(tmp) / "simgate.db", acked))
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
            if log_path:
                sink.close()  # type: ignore[union-attr]
    return out


def _wait_until_up(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).read()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the gateway did not start") from None
            time.sleep(0.1)


def _lost(db: Path, acked: list[str]) -> int:
    with sqlite3.connect(db) as conn:
        stored = {row[0] for row in conn.execute("SELECT message_id FROM message")}
    return sum(1 for message_id in acked if message_id not in stored)


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:40s} {value:12,.1f}")

"""The accept path without sockets: WSGI app -> service -> store, 16 threads, as waitress runs it.

Set beside ``http_accept`` it splits the cost between our code (this number) and the HTTP server
plus the load generator sharing the same two cores (the difference).
"""
from __future__ import annotations

import base64
import io
import json
import tempfile
import threading
import time

from gateway.config import Config
from gateway.runtime import assemble


def run(total: int = 8000, threads: int = 16) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        # Assembled as `simgate run` does, not started: no modem, the accept path alone.
        runtime = assemble(Config(state_dir=tmp))
        store, gateway = runtime.store, runtime.gateway
        gateway.create_account("bench", "bench-password")
        app = runtime.wsgi_app()
        auth = "Basic " + base64.b64encode(b"bench:bench-password").decode()
        latencies: list[float] = []
        lock = threading.Lock()

        def call(i: int) -> None:
            body = json.dumps({"from": "InfoSMS", "to": f"4179{i:07d}", "text": "Bench SMS."}).encode()
            environ = {
                "REQUEST_METHOD": "POST", "PATH_INFO": "/restapi/sms/1/text/single", "QUERY_STRING": "",
                "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
                "HTTP_AUTHORIZATION": auth, "SERVER_NAME": "bench", "SERVER_PORT": "80",
                "wsgi.url_scheme": "http", "SERVER_PROTOCOL": "HTTP/1.1",
            }
            status: list[str] = []
            t = time.perf_counter()
            b"".join(app(environ, lambda s, h, e=None: status.append(s)))
            elapsed = time.perf_counter() - t
            if not status[0].startswith("200"):
                raise RuntimeError(f"bench request failed: {status[0]}")
            with lock:
                latencies.append(elapsed)

        def worker(start: int, count: int) -> None:
            for i in range(start, start + count):
                call(i)

        # One login first: 16 threads' first requests would otherwise all miss the login cache
        # at once and the guard's burst (5 checks per user and client) refuses the rest with 401.
        call(total)
        latencies.clear()
        per = total // threads
        workers = [threading.Thread(target=worker, args=(n * per, per)) for n in range(threads)]
        t0 = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        elapsed = time.perf_counter() - t0
        commits, jobs = store.writer.commits, store.writer.jobs
        runtime.stop()
    latencies.sort()
    n = len(latencies)
    return {
        "api_inprocess_per_s": n / elapsed,
        "api_inprocess_p50_ms": latencies[n // 2] * 1000,
        "api_inprocess_p99_ms": latencies[int(n * 0.99) - 1] * 1000,
        "api_jobs_per_commit": jobs / max(1, commits),
    }

"""API throughput: bulk creation and single creates against gunicorn on loopback.

    .venv/bin/python bench/api.py [--bulk 10000] [--chunk 1000] [--singles 1000] [--clients 8]

Starts gunicorn (2 workers) on a scratch PostgreSQL database (created, migrated and
dropped), makes an operator token, then:
  1. creates --bulk domains through POST /api/v1/domains-bulk/ in requests of --chunk items;
  2. creates --singles domains one POST /api/v1/domains/ each, from --clients concurrent
     keep-alive connections;
and prints domains/s, requests/s and latency percentiles.
"""

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import free_port, percentile, recreate_database, wait_for_port  # noqa: E402


def run_manage(env: dict, *args: str) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


class Client:
    def __init__(self, port: int, key: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def post(self, path: str, body) -> tuple[int, float, bytes]:
        started = time.perf_counter()
        self.conn.request("POST", path, body=json.dumps(body), headers=self.headers)
        response = self.conn.getresponse()
        data = response.read()
        return response.status, time.perf_counter() - started, data


def bench_bulk(port: int, key: str, total: int, chunk: int) -> None:
    client = Client(port, key)
    latencies = []
    started = time.perf_counter()
    for offset in range(0, total, chunk):
        items = [
            {
                "name": f"bulk{i}.example.net",
                "aliases": [f"sip.bulk{i}.example.net"],
                "attributes": {"max_contacts": "3", "peering_policy": "closed"},
            }
            for i in range(offset, min(total, offset + chunk))
        ]
        status, seconds, data = client.post("/api/v1/domains-bulk/", items)
        if status != 201:
            raise RuntimeError(f"bulk create failed: {status} {data[:300]!r}")
        latencies.append(seconds)
    elapsed = time.perf_counter() - started
    print(
        f"bulk: {total} domains in {len(latencies)} requests of {chunk}: {elapsed:.2f} s, "
        f"{total / elapsed:.0f} domains/s; per request median {statistics.median(latencies):.3f} s,"
        f" max {max(latencies):.3f} s"
    )


def bench_singles(port: int, key: str, total: int, clients: int) -> None:
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    counter = iter(range(total))

    def worker() -> None:
        client = Client(port, key)
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            status, seconds, data = client.post(
                "/api/v1/domains/", {"name": f"single{i}.example.org"}
            )
            with lock:
                latencies.append(seconds)
                if status != 201:
                    failures.append(f"{status} {data[:200]!r}")

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} single creates failed, e.g. {failures[0]}")
    ms = [s * 1000 for s in latencies]
    print(
        f"single creates: {total} requests from {clients} connections in {elapsed:.2f} s, "
        f"{total / elapsed:.0f} requests/s; latency p50 {percentile(ms, 0.5):.1f} ms, "
        f"p95 {percentile(ms, 0.95):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bulk", type=int, default=10_000)
    parser.add_argument("--chunk", type=int, default=1_000)
    parser.add_argument("--singles", type=int, default=1_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/serweb_bench_api"
    )
    args = parser.parse_args()

    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    if gunicorn is None:
        sys.exit("gunicorn is not installed in this environment (pip install -e .)")
    recreate_database(args.database_url)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "SECRET_KEY": "bench-only-secret-key",
        "CELERY_BROKER_URL": "",
        "SERWEB_API_RATE": "1000000/min",
        "LOG_LEVEL": "WARNING",
    }
    server = None
    try:
        run_manage(env, "migrate", "--no-input", "-v", "0")
        run_manage(
            env,
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model;"
            "get_user_model().objects.create_user('bench', is_staff=True)",
        )
        key = run_manage(env, "token", "create", "bench", "--name", "bench").strip()
        server = subprocess.Popen(
            [
                gunicorn,
                "serweb.wsgi",
                "-w",
                "2",
                "-b",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                "--timeout",
                "300",
            ],
            cwd=ROOT,
            env=env,
        )
        wait_for_port(port)
        print(f"gunicorn 2 workers on 127.0.0.1:{port}, PostgreSQL {args.database_url}")
        bench_bulk(port, key, args.bulk, args.chunk)
        bench_singles(port, key, args.singles, args.clients)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        recreate_database(args.database_url, drop_only=True)


if __name__ == "__main__":
    main()

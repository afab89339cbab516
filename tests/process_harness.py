"""serweb's own processes for end-to-end tests, started as deploy/ starts them: the web
under gunicorn with deploy/gunicorn.conf.py, Celery workers and beat with the commands of
deploy/systemd, each a process of its own with production settings from the environment
(plain HTTP: no TLS proxy in front); a client that signs in and posts forms like a browser;
and a recorder in front of a proxy's HTTP RPC that notes when each call was in flight.

Everything listens on loopback ports picked free at run time and is stopped by the process
id started here.
"""

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from tests.kamailio_harness import free_port, stop_process, wait_until

ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"


def serweb_env(directory: Path, *, database_url: str, broker_url: str, queue: str, **extra):
    """The environment of one installation's processes: production settings
    (serweb.settings), this test's database, broker queue and scratch directory."""
    inherited = ("SERWEB_", "DJANGO_", "CELERY_", "DATABASE_", "CACHE_")
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(inherited)},
        "DJANGO_SETTINGS_MODULE": "serweb.settings",
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": database_url,
        "SECRET_KEY": "an-e2e-deployment-key-" + "y" * 40,
        "SERWEB_HTTPS": "0",
        "SERWEB_ENV_FILE": "/nonexistent",
        "SERWEB_VAR_DIR": str(directory / "var"),
        "CELERY_BROKER_URL": broker_url,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "PROMETHEUS_MULTIPROC_DIR": str(directory / "metrics"),
        # No DNS question leaves the machine.
        "SERWEB_DNS_NAMESERVERS": "127.0.0.1:9",
        "LOG_LEVEL": "INFO",
        **extra,
    }


class ServerProcess:
    """One long-running process, its output in a log file, ready when ``ready(log)``."""

    def __init__(self, name: str, command: list[str], env: dict, directory: Path, ready):
        self.name = name
        self.command = command
        self.env = env
        self.log_path = directory / f"{name}.log"
        self.ready = ready
        self.process: subprocess.Popen | None = None

    def start(self, *, timeout: float = 60) -> "ServerProcess":
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self._ready, timeout=timeout, what=f"{self.name} ready")
        return self

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited:\n{self.log_tail()}")
        return self.ready(self.log_text())

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=15)


def web_process(directory: Path, env: dict) -> tuple[ServerProcess, int]:
    """gunicorn with deploy/gunicorn.conf.py and two workers on a loopback port."""
    port = free_port(socket.SOCK_STREAM)
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        str(GUNICORN_CONF),
        "serweb.wsgi:application",
    ]
    env = {**env, "SERWEB_BIND": f"127.0.0.1:{port}", "SERWEB_WEB_WORKERS": "2"}

    def ready(log: str) -> bool:
        if log.count("Booting worker") < 2:
            return False
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", "/accounts/login/")
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()

    return ServerProcess("web", command, env, directory, ready), port


def worker_process(directory: Path, env: dict, name: str, *, concurrency: int = 2):
    """A Celery worker as deploy/systemd/serweb-worker.service runs it, named ``name``."""
    command = [sys.executable, "-m", "celery", "-A", "serweb", "worker", "--loglevel", "INFO"]
    command += ["--concurrency", str(concurrency), "-n", f"{name}@%h"]
    return ServerProcess(name, command, env, directory, lambda log: " ready." in log)


def beat_process(directory: Path, env: dict) -> ServerProcess:
    """Celery beat as deploy/systemd/serweb-beat.service runs it."""
    command = [sys.executable, "-m", "celery", "-A", "serweb", "beat", "--loglevel", "INFO"]
    command += ["--schedule", str(directory / "celerybeat-schedule")]
    return ServerProcess("beat", command, env, directory, lambda log: "beat: Starting" in log)


class PortalClient:
    """A browser without a browser: cookies kept, forms posted with their CSRF token."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | None = None):
        headers = {"Host": f"127.0.0.1:{self.port}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = f"http://127.0.0.1:{self.port}"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers)
            answer = connection.getresponse()
            text = answer.read().decode(errors="replace")
        finally:
            connection.close()
        for header in answer.msg.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return answer.status, answer.getheader("Location"), text

    def post_form(self, path: str, fields: dict) -> tuple[int, str | None, str]:
        """GET the page, then POST ``fields`` with the CSRF token of its form."""
        status, _location, page = self.request("GET", path)
        assert status == 200, f"GET {path}: {status}\n{page[:500]}"
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
        return self.request("POST", path, {**fields, "csrfmiddlewaretoken": token})

    def sign_in(self, login: str, password: str) -> None:
        status, _location, page = self.post_form(
            "/accounts/login/", {"login": login, "password": password}
        )
        assert status == 302 and "sessionid" in self.cookies, f"{status}\n{page[:800]}"


@dataclass(frozen=True)
class RpcCall:
    method: str
    started: float
    ended: float


class RpcRecorder:
    """An HTTP relay in front of Kamailio's JSON-RPC over HTTP that notes, for every call,
    when it arrived and when Kamailio's answer was back (time.monotonic()). Each request
    is served in a thread of its own, so calls sent at once stay at once."""

    def __init__(self, upstream: str):
        target = urlsplit(upstream)
        self.upstream = (target.hostname, target.port, target.path)
        self.calls: list[RpcCall] = []
        self._lock = threading.Lock()
        recorder = self

        class Relay(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                started = time.monotonic()
                status, reply = recorder._forward(body)
                method = json.loads(body or b"{}").get("method", "")
                with recorder._lock:
                    recorder.calls.append(RpcCall(method, started, time.monotonic()))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Relay)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{target.path}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def _forward(self, body: bytes) -> tuple[int, bytes]:
        host, port, path = self.upstream
        connection = http.client.HTTPConnection(host, port, timeout=60)
        try:
            connection.request(
                "POST", path, body=body, headers={"Content-Type": "application/json"}
            )
            answer = connection.getresponse()
            return answer.status, answer.read()
        finally:
            connection.close()

    def of(self, method: str) -> list[RpcCall]:
        with self._lock:
            return sorted((c for c in self.calls if c.method == method), key=lambda c: c.started)

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def overlapping(calls: list[RpcCall]) -> list[tuple[RpcCall, RpcCall]]:
    """The pairs of calls (sorted by start) of which the later began before the earlier
    was answered."""
    pairs, latest = [], None
    for call in calls:
        if latest is not None and call.started < latest.ended:
            pairs.append((latest, call))
        if latest is None or call.ended > latest.ended:
            latest = call
    return pairs

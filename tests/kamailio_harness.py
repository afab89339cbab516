"""Running the real proxy for end-to-end tests: Kamailio (Debian's package) with the
reference configuration, SIPp, and a Celery worker on Redis.

Everything listens on loopback ports picked free at run time, lives in a temporary
directory, and is stopped by the process id this module started. A missing binary fails
the run: these tests never skip.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from proxies import reload, sip_probe, transport
from proxies.models import Proxy
from proxies.services import proxy_create

REPO = Path(__file__).resolve().parent.parent
KAMAILIO_CFG = REPO / "deploy" / "kamailio" / "kamailio.cfg"
SIPP_DIR = REPO / "tests" / "sipp"
# One line per table load requested over RPC (debugger module, WITH_RELOAD_LOG): the
# domain module's, or in the htable index mode htable's load of the names.
RELOAD_LOG_LINE = "number of rows in domain_attrs table"
HTABLE_RELOAD_LOG_LINE = "loading hash table [domnames] from database"
# The reference configuration's modes of looking domains up, by SERWEB_PROXY_DOMAINS.
MODE_DEFINES = {"domain": (), "htable": ("WITH_HTABLE_DOMAINS",)}


def require_binary(name: str) -> str:
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None
    )
    if path is None:
        pytest.fail(f"{name} is not installed; the end-to-end tests need it (apt install)")
    return path


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A loopback port free for both UDP and TCP right now."""
    while True:
        with socket.socket(socket.AF_INET, kind) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        other = socket.SOCK_STREAM if kind == socket.SOCK_DGRAM else socket.SOCK_DGRAM
        try:
            with socket.socket(socket.AF_INET, other) as sock:
                sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return port


def wait_until(condition, *, timeout: float, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(interval)


def stop_process(process: subprocess.Popen, *, timeout: float = 5) -> None:
    """Stop a process started with start_new_session=True, and what it forked."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)
    except ProcessLookupError:
        pass


class Kamailio:
    """One Kamailio with the reference configuration, all three RPC transports on, and a
    log line per reload."""

    def __init__(
        self,
        directory: Path,
        db_url: str,
        *,
        shm_mb: int = 64,
        pkg_mb: int = 16,
        reload_log: bool = True,
        defines: tuple[str, ...] = (),
    ):
        self.directory = directory
        self.db_url = db_url
        self.shm_mb = shm_mb
        self.pkg_mb = pkg_mb
        self.reload_log = reload_log
        # Extra -A defines, e.g. WITH_HTABLE_ATTRS.
        self.defines = tuple(defines)
        self.binary = require_binary("kamailio")
        self.sip_port = free_port()
        self.dgram_port = free_port()
        self.http_port = free_port(socket.SOCK_STREAM)
        self.fifo = str(directory / "kamailio_rpc.fifo")
        self.log_path = directory / "kamailio.log"
        self.process: subprocess.Popen | None = None
        self.starts = 0
        self.reload_line = (
            HTABLE_RELOAD_LOG_LINE if "WITH_HTABLE_DOMAINS" in self.defines else RELOAD_LOG_LINE
        )

    @property
    def sip_address(self) -> str:
        return f"127.0.0.1:{self.sip_port}"

    @property
    def udp_rpc(self) -> str:
        return f"127.0.0.1:{self.dgram_port}"

    @property
    def http_rpc(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/RPC"

    def command(self) -> list[str]:
        defines = {
            "DBURL": f'"{self.db_url}"',
            "RPC_FIFO": f'"{self.fifo}"',
            "RPC_REPLY_DIR": f'"{self.directory}/"',
            "RPC_TRANSPORT": "7",
            "RPC_DGRAM": f'"udp:127.0.0.1:{self.dgram_port}"',
            "CHILDREN": "2",
        }
        command = [self.binary, "-f", str(KAMAILIO_CFG), "-DD", "-E"]
        for name, value in defines.items():
            command += ["-A", f"{name}={value}"]
        command += ["-A", "WITH_HTTP_RPC"]
        if self.reload_log:
            command += ["-A", "WITH_RELOAD_LOG"]
        for define in self.defines:
            command += ["-A", define]
        command += ["-l", f"udp:127.0.0.1:{self.sip_port}", "-l", f"tcp:127.0.0.1:{self.http_port}"]
        command += ["-Y", str(self.directory), "-P", str(self.directory / "kamailio.pid")]
        command += ["-m", str(self.shm_mb), "-M", str(self.pkg_mb), "-w", str(self.directory)]
        return command

    def start(self, *, timeout: float = 15) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.starts += 1
        log = open(self.log_path, "a")
        log.write(f"\n==== start {self.starts}\n")
        log.flush()
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.directory,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        try:
            wait_until(self._ready, timeout=timeout, what=f"Kamailio answering on {self.fifo}")
        except BaseException:
            stop_process(self.process)
            raise

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"Kamailio exited at start:\n{self.log_tail()}")
        try:
            transport.rpc_call("fifo", self.fifo, "core.uptime", timeout=1)
        except transport.ProxyError:
            return False
        return True

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
        # A clean stop removes the FIFO; make sure no stale one misleads the next start.
        wait_until(lambda: not os.path.exists(self.fifo), timeout=5, what="FIFO removed")

    def rpc(self, method: str, params: list | None = None):
        return transport.rpc_call("fifo", self.fifo, method, params, timeout=5)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def reloads_logged(self) -> int:
        return self.log_text().count(self.reload_line)

    @contextmanager
    def reload_times(self, *, interval: float = 0.005) -> Iterator[list[float]]:
        """Yield a list that gets the time.monotonic() at which each reload appears in the
        log from now on (the log has no timestamps; polled every ``interval``)."""
        times: list[float] = []
        done = threading.Event()
        offset = self.log_path.stat().st_size

        def watch() -> None:
            nonlocal offset
            pending = ""
            while True:
                finished = done.is_set()
                with open(self.log_path, errors="replace") as log:
                    log.seek(offset)
                    chunk = log.read()
                    offset = log.tell()
                lines = (pending + chunk).split("\n")
                pending = lines.pop()
                now = time.monotonic()
                times.extend(now for line in lines if self.reload_line in line)
                if finished:
                    return
                done.wait(interval)

        watcher = threading.Thread(target=watch, name="kamailio-reload-watch", daemon=True)
        watcher.start()
        try:
            yield times
        finally:
            done.set()
            watcher.join(timeout=5)

    def contacts(self, aor: str) -> list[str]:
        """The registered contacts of user@did (usrloc in memory)."""
        return [c.address for c in transport.usrloc_lookup("fifo", self.fifo, aor, timeout=5)]

    def serves(self, name: str) -> str | None:
        """The did the proxy serves ``name`` as right now (SIP OPTIONS), or None."""
        answer = sip_probe.options(self.sip_address, name, timeout=2)
        return answer.headers.get("x-serweb-did") if answer.status == 200 else None


@dataclass
class SippResult:
    returncode: int
    output: str
    log: str
    messages: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def explain(self) -> str:
        return f"sipp exit {self.returncode}\n{self.output[-1500:]}\n{self.messages[-3000:]}"

    def statuses(self) -> list[int]:
        """The status codes of the responses SIPp logged (expected or not), in order, a
        retransmitted one once."""
        codes: list[int] = []
        for line in self.messages.splitlines():
            parts = line.split()
            if len(parts) > 1 and parts[0] == "SIP/2.0" and parts[1].isdigit():
                code = int(parts[1])
                if not codes or codes[-1] != code:
                    codes.append(code)
        return codes


class Sipp:
    def __init__(self, directory: Path, proxy_address: str):
        self.binary = require_binary("sipp")
        self.directory = directory
        self.proxy_address = proxy_address
        self.runs = 0

    def _command(
        self,
        scenario: str,
        *,
        port: int,
        keys: dict[str, str],
        auth: tuple[str, str] | None,
        timeout: float,
        prefix: str,
        calls: int = 1,
        rate: int | None = None,
        limit: int | None = None,
    ) -> list[str]:
        command = [self.binary, "-sf", str(SIPP_DIR / scenario)]
        command += ["-i", "127.0.0.1", "-p", str(port), "-mp", str(free_port())]
        command += ["-m", str(calls), "-nostdin", "-timeout", f"{timeout}s", "-timeout_error"]
        if rate is not None:
            command += ["-r", str(rate)]
        if limit is not None:
            command += ["-l", str(limit)]
        command += ["-trace_msg", "-message_file", f"{prefix}.msg"]
        command += ["-trace_logs", "-log_file", f"{prefix}.log"]
        for key, value in keys.items():
            command += ["-key", key, value]
        if auth is not None:
            command += ["-au", auth[0], "-ap", auth[1]]
        return command

    def _prefix(self, scenario: str) -> Path:
        self.runs += 1
        return self.directory / f"sipp{self.runs:03d}-{Path(scenario).stem}"

    def run(
        self,
        scenario: str,
        *,
        keys: dict[str, str],
        auth: tuple[str, str] | None = None,
        port: int | None = None,
        timeout: float = 10,
        calls: int = 1,
        rate: int | None = None,
        limit: int | None = None,
    ) -> SippResult:
        """Run ``calls`` calls of the scenario, ``rate`` new ones a second (SIPp's default
        is 10), at most ``limit`` of them at once."""
        prefix = self._prefix(scenario)
        command = self._command(
            scenario,
            port=port or free_port(),
            keys=keys,
            auth=auth,
            timeout=timeout,
            prefix=str(prefix),
            calls=calls,
            rate=rate,
            limit=limit,
        )
        command.append(self.proxy_address)
        done = subprocess.run(
            command, cwd=self.directory, capture_output=True, text=True, timeout=timeout + 10
        )
        return self._result(done.returncode, done.stdout + done.stderr, prefix)

    def start_uas(self, *, port: int, timeout: float = 20) -> "SippUas":
        prefix = self._prefix("uas.xml")
        command = self._command(
            "uas.xml", port=port, keys={}, auth=None, timeout=timeout, prefix=str(prefix)
        )
        process = subprocess.Popen(
            command,
            cwd=self.directory,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        return SippUas(self, process, prefix)

    def _result(self, returncode: int, output: str, prefix: Path) -> SippResult:
        def read(suffix: str) -> str:
            path = Path(f"{prefix}.{suffix}")
            return path.read_text(errors="replace") if path.exists() else ""

        return SippResult(returncode, output, read("log"), read("msg"))


class SippUas:
    def __init__(self, sipp: Sipp, process: subprocess.Popen, prefix: Path):
        self.sipp = sipp
        self.process = process
        self.prefix = prefix

    def wait(self, timeout: float = 20) -> SippResult:
        try:
            output, _ = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_process(self.process)
            output, _ = self.process.communicate()
        return self.sipp._result(self.process.returncode, output or "", self.prefix)

    def stop(self) -> None:
        stop_process(self.process)


class CeleryWorker:
    """A worker process on Redis, consuming a queue of its own so parallel runs and other
    users of the same Redis do not steal each other's tasks."""

    BOOTSTRAP = (
        "import sys; from serweb.celery import app; "
        "app.conf.task_default_queue = sys.argv[1]; "
        "app.worker_main(['worker', '--pool=solo', '--loglevel=INFO', '-Q', sys.argv[1], "
        "'--without-gossip', '--without-mingle', '--without-heartbeat', '-n', sys.argv[1] + '@%h'])"
    )

    def __init__(
        self,
        directory: Path,
        *,
        broker_url: str,
        database_url: str,
        queue: str,
        env: dict[str, str] | None = None,
    ):
        self.directory = directory
        self.broker_url = broker_url
        self.database_url = database_url
        self.queue = queue
        # Settings of this worker's own, e.g. a short SERWEB_RELOAD_MAX_WAIT.
        self.env = dict(env or {})
        self.log_path = directory / "celery-worker.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": self.database_url,
            "CELERY_BROKER_URL": self.broker_url,
            "PYTHONPATH": str(REPO),
            **self.env,
        }
        log = open(self.log_path, "a")
        self.process = subprocess.Popen(
            [sys.executable, "-c", self.BOOTSTRAP, self.queue],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        wait_until(self._ready, timeout=30, what="the Celery worker ready")

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"the Celery worker exited:\n{self.log_tail()}")
        return " ready." in self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=10)


def redis_reachable(host: str = "127.0.0.1", port: int = 6379) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


# --- what every end-to-end module sets up ----------------------------------------------------


@contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A directory of the run's own (pytest's shared basetemp is pruned by other runs);
    kept when SERWEB_E2E_KEEP is set, for a look after a failure."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        if not os.environ.get("SERWEB_E2E_KEEP"):
            shutil.rmtree(path, ignore_errors=True)


@contextmanager
def proxy_login(django_db_blocker, role_prefix: str) -> Iterator[tuple[str, str]]:
    """A read-only login for Kamailio on the test database, dropped afterwards.

    Yields the login's database URL and where the test database is (HOST:PORT/NAME)."""
    from django.db import connection

    from proxies.access import proxy_role_grant

    if connection.vendor != "postgresql":
        pytest.fail("the end-to-end tests need PostgreSQL: set DATABASE_URL")
    role = f"{role_prefix}_{os.getpid()}"
    with django_db_blocker.unblock():
        proxy_role_grant(role=role)
        db = connection.settings_dict
    where = f"{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    try:
        yield f"postgres://{role}@{where}", where
    finally:
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(f'DROP OWNED BY "{role}"')
            cursor.execute(f'DROP ROLE "{role}"')


@contextmanager
def running_kamailio(django_db_blocker, prefix: str, **options) -> Iterator[Kamailio]:
    """A Kamailio of its own on the test database (a session fixture's body): a scratch
    directory, a read-only login, the process; all gone afterwards."""
    with (
        scratch_dir(f"serweb-{prefix}-") as path,
        proxy_login(django_db_blocker, f"serweb_{prefix}") as (url, _where),
    ):
        instance = Kamailio(path, url, **options)
        instance.start()
        try:
            yield instance
        finally:
            instance.stop()


def serweb_proxy(kamailio: Kamailio, name: str = "kam") -> Proxy:
    """The running Kamailio (started again if a test stopped it) as serweb's proxy ``name``
    on its FIFO, reloaded to the test's data."""
    if kamailio.process is None or kamailio.process.poll() is not None:
        kamailio.start()
    created = proxy_create(
        actor=None,
        name=name,
        transport="fifo",
        address=kamailio.fifo,
        sip_address=kamailio.sip_address,
    )
    outcome = reload.proxy_reload(created.pk, force=True)
    assert outcome.status == reload.Status.APPLIED, outcome
    return Proxy.objects.get(pk=created.pk)

"""A real authoritative DNS server for the tests: Knot, on a loopback port.

``KnotServer`` writes a configuration and zone files into a temporary folder, starts
``knotd`` in the foreground (so it is stopped by its own pid), and changes its zones at run
time with RFC 2136 dynamic updates. ``SilentPort`` is a UDP port that receives queries and
never answers, for timeouts. A missing ``knotd`` fails the tests: it is a test dependency
(``apt-get install knot knot-dnsutils``), not an optional one.
"""

import itertools
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.update
import pytest

LOOPBACK = "127.0.0.1"
# The zone every test domain lives in; its NS resolves to the loopback address, so asking
# "the domain's own authoritative servers" leads back to this server.
ZONE = "test"
# Declared without a zone file: Knot answers SERVFAIL for every name in it.
BROKEN_ZONE = "broken.test"
# Not served at all: Knot answers REFUSED.
REFUSED_NAME = "example.refused-zone"

PROXY_HOSTNAMES = ["proxy1.serweb.test", "proxy2.serweb.test"]
PROXY_ADDRESSES = ["192.0.2.10", "192.0.2.11", "2001:db8::10"]

_SOA_AND_NS = f"""\
$ORIGIN {ZONE}.
$TTL 60
@       SOA  ns.{ZONE}. hostmaster.{ZONE}. 1 3600 600 86400 60
@       NS   ns.{ZONE}.
ns      A    {LOOPBACK}
proxy1.serweb  A     192.0.2.10
proxy1.serweb  AAAA  2001:db8::10
proxy2.serweb  A     192.0.2.11
"""


def free_loopback_port() -> int:
    """A port free for both UDP and TCP on the loopback address (at the time of asking)."""
    for _ in range(20):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((LOOPBACK, 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((LOOPBACK, port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free loopback port")


class SilentPort:
    """A bound UDP socket nobody reads: queries sent to it time out."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LOOPBACK, 0))
        self.port = self.sock.getsockname()[1]

    @property
    def nameserver(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def close(self) -> None:
        self.sock.close()


class KnotServer:
    """``address`` and ``port``: where it listens (a free loopback port by default); a
    second server for one zone listens on another loopback address, same port."""

    def __init__(
        self, workdir: Path, *, extra_zone_text: str = "", address: str = LOOPBACK, port: int = 0
    ) -> None:
        self.workdir = workdir
        self.extra_zone_text = extra_zone_text
        self.address = address
        self.port = port
        self.process: subprocess.Popen | None = None
        self._names = itertools.count(1)

    @property
    def nameserver(self) -> str:
        return f"{self.address}:{self.port}"

    def _write_config(self) -> Path:
        zones = self.workdir / "zones"
        zones.mkdir(parents=True, exist_ok=True)
        (zones / f"{ZONE}.zone").write_text(_SOA_AND_NS + self.extra_zone_text)
        config = self.workdir / "knot.conf"
        config.write_text(
            f"""\
server:
    rundir: "{self.workdir}"
    listen: {self.address}@{self.port}
    udp-workers: 2
    tcp-workers: 1
    background-workers: 1

log:
  - target: stderr
    any: error

database:
    storage: "{self.workdir}/db"

control:
    listen: "{self.workdir}/knot.sock"

acl:
  - id: loopback_update
    address: 127.0.0.0/8
    action: update

template:
  - id: default
    storage: "{zones}"
    file: "%s.zone"
    # Updates live in memory only: nothing to clean up between sessions.
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
    acl: loopback_update

zone:
  - domain: {ZONE}
  - domain: {BROKEN_ZONE}
"""
        )
        return config

    def start(self, timeout: float = 10.0) -> None:
        knotd = shutil.which("knotd") or (
            "/usr/sbin/knotd" if Path("/usr/sbin/knotd").exists() else None
        )
        if knotd is None:
            raise RuntimeError(
                "knotd is not installed: the DNS tests need it (apt-get install knot knot-dnsutils)"
            )
        self.port = self.port or free_loopback_port()
        config = self._write_config()
        log = open(self.workdir / "knotd.log", "wb")  # noqa: SIM115 - kept open while it runs
        self.process = subprocess.Popen(
            [knotd, "-c", str(config), "-s", str(self.workdir / "knot.sock")],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"knotd exited with {self.process.returncode}: "
                    f"{(self.workdir / 'knotd.log').read_text(errors='replace')}"
                )
            if self._answers():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"knotd did not answer on {self.nameserver} within {timeout} s")

    def _answers(self) -> bool:
        query = dns.message.make_query(f"{ZONE}.", "SOA")
        try:
            response = dns.query.udp(query, self.address, port=self.port, timeout=0.2)
        except (OSError, dns.exception.Timeout):
            return False
        return response.rcode() == dns.rcode.NOERROR and bool(response.answer)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    # --- test data -------------------------------------------------------------------

    def unique(self, prefix: str = "d") -> str:
        """A fresh domain name under the test zone, so tests never share records."""
        return f"{prefix}{next(self._names)}.{ZONE}"

    def update(
        self,
        *,
        add: Iterable[tuple[str, str, str]] = (),
        delete: Iterable[tuple[str, str | None]] = (),
        ttl: int = 60,
    ) -> None:
        """One RFC 2136 update: delete (name, type or None for all) then add (name, type, rdata)."""
        message = dns.update.UpdateMessage(f"{ZONE}.")
        for name, rdtype in delete:
            if rdtype is None:
                message.delete(_absolute(name))
            else:
                message.delete(_absolute(name), rdtype)
        for name, rdtype, rdata in add:
            message.add(_absolute(name), ttl, rdtype, rdata)
        response = dns.query.tcp(message, self.address, port=self.port, timeout=5)
        if response.rcode() != dns.rcode.NOERROR:
            raise RuntimeError(f"update refused: {dns.rcode.to_text(response.rcode())}")

    def add(self, name: str, rdtype: str, *rdatas: str, ttl: int = 60) -> None:
        self.update(add=[(name, rdtype, rdata) for rdata in rdatas], ttl=ttl)

    def remove(self, name: str, rdtype: str | None = None) -> None:
        self.update(delete=[(name, rdtype)])

    def srv(self, domain: str, target: str, *, services: Iterable[str] = ("_sip._udp",)) -> None:
        """SRV records of ``domain`` pointing at ``target`` port 5060."""
        absolute = _absolute(target)
        self.update(add=[(f"{s}.{domain}", "SRV", f"10 10 5060 {absolute}") for s in services])


def _absolute(name: str) -> str:
    return name if name.endswith(".") else f"{name}."  # "." stays the root


# --- pytest fixtures (import them into a test module to use them) -------------------------

_server: KnotServer | None = None


@pytest.fixture(scope="session")
def knot(request, tmp_path_factory) -> KnotServer:
    """One Knot server per test session, however many modules import this fixture."""
    global _server
    if _server is None:
        _server = KnotServer(tmp_path_factory.mktemp("knot"))
        _server.start()
        request.addfinalizer(_stop_server)
    return _server


def _stop_server() -> None:
    global _server
    if _server is not None:
        _server.stop()
        _server = None


@pytest.fixture
def silent_port():
    port = SilentPort()
    yield port
    port.close()


@pytest.fixture
def dns_settings(settings, knot):
    """serweb's DNS settings pointed at the test server, with short timeouts."""
    settings.SERWEB_DNS_NAMESERVERS = [knot.nameserver]
    settings.SERWEB_DNS_AUTHORITY_PORT = knot.port
    settings.SERWEB_PROXY_HOSTNAMES = list(PROXY_HOSTNAMES)
    settings.SERWEB_PROXY_ADDRESSES = list(PROXY_ADDRESSES)
    settings.SERWEB_DNS_TIMEOUT_MS = 150
    settings.SERWEB_DNS_LIFETIME_MS = 300
    # .test is where the test domains live; the operator's own zone stays reserved.
    settings.SERWEB_DNS_RESERVED_SUFFIXES = ["localhost", "local", "invalid", "operator.test"]
    settings.SERWEB_DNS_CANARIES = []
    settings.SERWEB_DNS_AUTO_LEARN = False
    settings.SERWEB_DNS_ALLOW_PARTIAL = False
    return settings

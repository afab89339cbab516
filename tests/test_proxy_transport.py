"""proxies.transport against small stand-ins for Kamailio's jsonrpcs transports and SIP."""

import json
import os
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from proxies import sip_probe, transport

Answer = Callable[[dict], dict | None]


def ok(request: dict) -> dict:
    return {"jsonrpc": "2.0", "result": {"method": request["method"]}, "id": request["id"]}


def refuse(request: dict) -> dict:
    error = {"code": 400, "message": "Reload of domain tables failed"}
    return {"jsonrpc": "2.0", "error": error, "id": request["id"]}


def silent(request: dict) -> None:
    return None


class FakeFifoServer:
    """Reads JSON-RPC requests from a FIFO and answers through the reply FIFO, as
    jsonrpcs does with ``fifo_reply_dir`` = the FIFO's directory."""

    def __init__(self, path: Path, answer: Answer):
        self.path = path
        self.answer = answer
        self.requests: list[dict] = []
        self._stop = threading.Event()
        os.mkfifo(path, 0o660)
        self._fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        # Holding a writer open keeps reads from seeing end-of-file between clients.
        self._keepalive = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        buffer = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([self._fd], [], [], 0.05)
            if not ready:
                continue
            buffer += os.read(self._fd, 65536)
            while buffer:
                try:
                    request, end = json.JSONDecoder().raw_decode(buffer.decode())
                except ValueError:
                    break
                buffer = buffer[end:].lstrip()
                self._reply(request)

    def _reply(self, request: dict) -> None:
        self.requests.append(request)
        reply = self.answer(request)
        if reply is None:
            return
        reply_path = self.path.parent / request["reply_name"]
        fd = os.open(reply_path, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, json.dumps(reply).encode())
        finally:
            os.close(fd)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        os.close(self._fd)
        os.close(self._keepalive)


@pytest.fixture
def fifo_server(tmp_path) -> Iterator[Callable[[Answer], FakeFifoServer]]:
    servers: list[FakeFifoServer] = []

    def start(answer: Answer) -> FakeFifoServer:
        server = FakeFifoServer(tmp_path / "kamailio_rpc.fifo", answer)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


class FakeUdpServer:
    """Answers datagrams with ``handle(data) -> list of datagrams``."""

    def __init__(self, handle: Callable[[bytes], list[bytes]]):
        self.handle = handle
        self.received: list[bytes] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            self.received.append(data)
            for reply in self.handle(data):
                self.sock.sendto(reply, peer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def udp_server() -> Iterator[Callable[..., FakeUdpServer]]:
    servers: list[FakeUdpServer] = []

    def start(handle: Callable[[bytes], list[bytes]]) -> FakeUdpServer:
        server = FakeUdpServer(handle)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def rpc_over_udp(answer: Answer) -> Callable[[bytes], list[bytes]]:
    def handle(data: bytes) -> list[bytes]:
        reply = answer(json.loads(data))
        return [] if reply is None else [json.dumps(reply).encode()]

    return handle


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def elapsed(func: Callable[[], object]) -> float:
    started = time.monotonic()
    try:
        func()
    except transport.ProxyError:
        pass
    return time.monotonic() - started


# --- FIFO ----------------------------------------------------------------------------------


def test_fifo_call_returns_the_result_and_removes_the_reply_fifo(fifo_server, tmp_path):
    server = fifo_server(ok)
    result = transport.rpc_call("fifo", str(server.path), "domain.reload", timeout=2)
    assert result == {"method": "domain.reload"}
    request = server.requests[0]
    assert request["jsonrpc"] == "2.0" and request["method"] == "domain.reload"
    assert "/" not in request["reply_name"] and "." not in request["reply_name"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kamailio_rpc.fifo"]


def test_fifo_error_reply_raises_rpc_error(fifo_server):
    server = fifo_server(refuse)
    with pytest.raises(transport.ProxyRpcError) as caught:
        transport.domain_reload("fifo", str(server.path), timeout=2)
    assert caught.value.code == 400
    assert "Reload of domain tables failed" in str(caught.value)


def test_fifo_of_a_stopped_kamailio_fails_at_once(tmp_path):
    # A FIFO left behind with nobody reading: a blocking open would hang forever.
    stale = tmp_path / "kamailio_rpc.fifo"
    os.mkfifo(stale)
    with pytest.raises(transport.ProxyUnreachable):
        transport.rpc_call("fifo", str(stale), "core.uptime", timeout=5)
    assert elapsed(lambda: transport.rpc_call("fifo", str(stale), "core.uptime", timeout=5)) < 0.5


def test_missing_fifo_is_unreachable(tmp_path):
    with pytest.raises(transport.ProxyUnreachable):
        transport.rpc_call("fifo", str(tmp_path / "absent.fifo"), "core.uptime", timeout=5)


def test_a_regular_file_is_not_taken_for_a_fifo(tmp_path):
    path = tmp_path / "not-a-fifo"
    path.write_text("")
    with pytest.raises(transport.ProxyError, match="not a FIFO"):
        transport.rpc_call("fifo", str(path), "core.uptime", timeout=1)
    assert path.read_text() == ""


def test_fifo_reader_that_never_answers_times_out(fifo_server, tmp_path):
    server = fifo_server(silent)
    with pytest.raises(transport.ProxyTimeout):
        transport.rpc_call("fifo", str(server.path), "domain.reload", timeout=0.3)
    assert (
        0.25 < elapsed(lambda: transport.rpc_call("fifo", str(server.path), "x", timeout=0.3)) < 1.5
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kamailio_rpc.fifo"]


def test_reply_to_another_request_is_refused(fifo_server):
    server = fifo_server(lambda request: {**ok(request), "id": request["id"] + 1000})
    with pytest.raises(transport.ProxyError, match="answers request"):
        transport.rpc_call("fifo", str(server.path), "core.uptime", timeout=1)


def test_shm_stats_reads_core_shmmem_in_kib(fifo_server):
    # In bytes, Kamailio's answer wraps past 2 GiB; in KiB it does not.
    def shmmem(request: dict) -> dict:
        result = {"total": 4194304, "free": 3000000, "used": 5000, "max_used": 6000}
        return {"jsonrpc": "2.0", "result": result, "id": request["id"]}

    server = fifo_server(shmmem)
    stats = transport.shm_stats("fifo", str(server.path), timeout=1)
    assert stats == transport.ShmStats(
        total=4 << 30, free=3000000 * 1024, used=5000 * 1024, max_used=6000 * 1024
    )
    assert server.requests[0]["method"] == "core.shmmem"
    assert server.requests[0]["params"] == ["k"]


def answering(result=None, error=None) -> Answer:
    def answer(request: dict) -> dict:
        reply = {"error": error} if error is not None else {"result": result}
        return {"jsonrpc": "2.0", **reply, "id": request["id"]}

    return answer


# ul.lookup's answer in Kamailio 5.6, trimmed.
REGISTERED = {
    "AoR": "ivy@example.com",
    "Contacts": [
        {
            "Contact": {
                "Address": "sip:ivy@192.0.2.7:5062",
                "Expires": 597,
                "Q": -1,
                "User-Agent": "n/a",
                "Received": "sip:198.51.100.9:40000",
                "Socket": "udp:127.0.0.1:5060",
            }
        },
        {
            "Contact": {
                "Address": "sip:ivy@192.0.2.8",
                "Expires": "permanent",
                "Q": 500,
                "User-Agent": "softphone 1.2",
                "Received": "[not set]",
                "Socket": "udp:127.0.0.1:5060",
            }
        },
    ],
}


def test_usrloc_lookup_reads_the_contacts_of_an_aor(fifo_server):
    server = fifo_server(answering(REGISTERED))
    contacts = transport.usrloc_lookup("fifo", str(server.path), "ivy@example.com", timeout=1)
    assert server.requests[0]["method"] == "ul.lookup"
    assert server.requests[0]["params"] == ["location", "ivy@example.com"]
    assert contacts == [
        transport.Contact(
            address="sip:ivy@192.0.2.7:5062",
            expires=597,
            user_agent="",
            received="sip:198.51.100.9:40000",
            socket="udp:127.0.0.1:5060",
        ),
        transport.Contact(
            address="sip:ivy@192.0.2.8",
            expires=None,
            user_agent="softphone 1.2",
            received="",
            socket="udp:127.0.0.1:5060",
        ),
    ]


@pytest.mark.parametrize("message", ["AOR not found in location table", "AOR has no contacts"])
def test_usrloc_lookup_of_an_aor_not_registered_is_empty(fifo_server, message):
    server = fifo_server(answering(error={"code": 500, "message": message}))
    assert transport.usrloc_lookup("fifo", str(server.path), "ivy@example.com", timeout=1) == []


@pytest.mark.parametrize(
    "answer",
    [
        answering(error={"code": 500, "message": "Domain table not found"}),
        answering({"AoR": "ivy@example.com"}),
        answering({"Contacts": [{"Contact": {"Expires": 3}}]}),
        answering(["not", "a", "struct"]),
    ],
)
def test_usrloc_lookup_of_a_strange_answer_is_an_error(fifo_server, answer):
    server = fifo_server(answer)
    with pytest.raises(transport.ProxyError):
        transport.usrloc_lookup("fifo", str(server.path), "ivy@example.com", timeout=1)


# --- UDP -----------------------------------------------------------------------------------


def test_udp_call_returns_the_result(udp_server):
    server = udp_server(rpc_over_udp(ok))
    assert transport.rpc_call("udp", server.address, "core.shmmem", timeout=1) == {
        "method": "core.shmmem"
    }
    # The datagram transport takes the request without reply_name.
    assert "reply_name" not in json.loads(server.received[0])


def test_udp_error_reply_raises_rpc_error(udp_server):
    server = udp_server(rpc_over_udp(refuse))
    with pytest.raises(transport.ProxyRpcError):
        transport.domain_reload("udp", server.address, timeout=1)


def test_udp_port_without_listener_is_unreachable():
    address = f"127.0.0.1:{free_udp_port()}"
    with pytest.raises(transport.ProxyUnreachable):
        transport.rpc_call("udp", address, "core.uptime", timeout=2)
    assert elapsed(lambda: transport.rpc_call("udp", address, "core.uptime", timeout=2)) < 1


def test_udp_silence_times_out(udp_server):
    server = udp_server(rpc_over_udp(silent))
    with pytest.raises(transport.ProxyTimeout):
        transport.rpc_call("udp", server.address, "domain.reload", timeout=0.3)


def test_udp_address_needs_a_port():
    with pytest.raises(transport.ProxyError, match="HOST:PORT"):
        transport.rpc_call("udp", "127.0.0.1", "core.uptime", timeout=1)


# --- HTTP ----------------------------------------------------------------------------------


class _RpcHandler(BaseHTTPRequestHandler):
    answer: Answer = ok

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        reply = type(self).answer(request)
        if reply is None:
            time.sleep(1)
            return
        body = json.dumps(reply).encode()
        self.send_response(500 if "error" in reply else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[Callable[[Answer], str]]:
    servers: list[ThreadingHTTPServer] = []

    def start(answer: Answer) -> str:
        handler = type("Handler", (_RpcHandler,), {"answer": staticmethod(answer)})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/RPC"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_http_call_returns_the_result(http_server):
    url = http_server(ok)
    assert transport.rpc_call("http", url, "domain.reload", timeout=2) == {
        "method": "domain.reload"
    }


def test_http_error_status_carries_the_rpc_error(http_server):
    url = http_server(refuse)
    with pytest.raises(transport.ProxyRpcError) as caught:
        transport.domain_reload("http", url, timeout=2)
    assert caught.value.code == 400


def test_http_refused_connection_is_unreachable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(transport.ProxyUnreachable):
        transport.rpc_call("http", f"http://127.0.0.1:{port}/RPC", "core.uptime", timeout=2)


def test_http_silence_times_out(http_server):
    url = http_server(silent)
    with pytest.raises(transport.ProxyTimeout):
        transport.rpc_call("http", url, "domain.reload", timeout=0.3)


# --- SIP OPTIONS ---------------------------------------------------------------------------


def sip_responder(served: dict[str, str], *, drop_first: int = 0) -> Callable[[bytes], list]:
    """Answers OPTIONS like the reference configuration: 200 with the did, or 404."""
    seen = {"count": 0}

    def handle(data: bytes) -> list[bytes]:
        seen["count"] += 1
        if seen["count"] <= drop_first:
            return []
        head = data.decode().split("\r\n\r\n")[0].split("\r\n")
        name = head[0].split()[1].removeprefix("sip:")
        copied = [
            line for line in head[1:] if line.split(":")[0] in ("Via", "From", "Call-ID", "CSeq")
        ]
        to = next(line for line in head if line.startswith("To:")) + ";tag=x"
        if name in served:
            status, extra = "200 OK", [f"X-Serweb-Did: {served[name]}"]
        else:
            status, extra = "404 Not Here", []
        provisional = "\r\n".join(["SIP/2.0 100 Trying", *copied, to, "", ""]).encode()
        final = "\r\n".join([f"SIP/2.0 {status}", *copied, to, *extra, "Content-Length: 0", "", ""])
        return [provisional, final.encode()]

    return handle


def test_options_probe_reports_the_did(udp_server):
    server = udp_server(sip_responder({"sip.alpha.test": "alpha.test"}))
    answer = sip_probe.options(server.address, "sip.alpha.test", timeout=1)
    assert answer.status == 200
    assert answer.headers["x-serweb-did"] == "alpha.test"
    request = server.received[0].decode()
    assert request.startswith("OPTIONS sip:sip.alpha.test SIP/2.0\r\n")


def test_options_probe_of_an_unserved_name_gets_404(udp_server):
    server = udp_server(sip_responder({}))
    assert sip_probe.options(server.address, "gone.test", timeout=1).status == 404


def test_options_probe_retransmits_a_lost_request(udp_server):
    server = udp_server(sip_responder({"alpha.test": "alpha.test"}, drop_first=1))
    assert sip_probe.options(server.address, "alpha.test", timeout=2).status == 200
    assert len(server.received) == 2


def test_options_probe_times_out(udp_server):
    server = udp_server(lambda data: [])
    with pytest.raises(transport.ProxyTimeout):
        sip_probe.options(server.address, "alpha.test", timeout=0.3)


def test_options_probe_without_listener_is_unreachable():
    with pytest.raises(transport.ProxyUnreachable):
        sip_probe.options(f"127.0.0.1:{free_udp_port()}", "alpha.test", timeout=2)

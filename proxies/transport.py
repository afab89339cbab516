"""Talking to a Kamailio proxy: JSON-RPC (module jsonrpcs). proxies/sip_probe.py sends
the SIP OPTIONS probe with this module's deadlines, UDP sockets and errors.

With sip_probe, the only code that opens a connection to a proxy. No ORM: callers pass the
transport and address, and get plain values or a ProxyError back. Every call has a deadline, and
nothing here blocks without one: a proxy that is down or wedged costs at most the timeout.

Transports (Kamailio's jsonrpcs ``transport`` parameter):
- ``fifo``: the local FIFO. The reply comes through a FIFO this module creates in the
  same directory, so Kamailio's ``fifo_reply_dir`` must be that directory.
- ``udp``: the datagram transport (``dgram_socket``), HOST:PORT.
- ``http``: xhttp + jsonrpcs, a URL such as http://127.0.0.1:5071/RPC.
"""

import errno
import itertools
import json
import os
import secrets
import select
import socket
import stat
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

FIFO = "fifo"
UDP = "udp"
HTTP = "http"

# One write of at most PIPE_BUF bytes to a FIFO is atomic; Kamailio reads requests of
# up to 8 KiB, ours are far smaller.
_PIPE_BUF = 4096
_MAX_REPLY = 1 << 20
_request_ids = itertools.count(1)


class ProxyError(Exception):
    """The proxy could not be asked, or did not answer as it should."""


class ProxyUnreachable(ProxyError):
    """The request never reached the proxy (not running, refused): safe to retry."""


class ProxyTimeout(ProxyError):
    """The request went out but no reply came in time; the proxy may still act on it."""


class ProxyRpcError(ProxyError):
    """The proxy answered with a JSON-RPC error."""

    def __init__(self, code: int | None, message: str):
        super().__init__(f"error {code}: {message}" if code is not None else message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ShmStats:
    total: int
    free: int
    used: int
    max_used: int


class Deadline:
    def __init__(self, timeout: float):
        self.end = time.monotonic() + timeout

    def left(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def left_ms(self) -> int:
        return int(self.left() * 1000)


# --- JSON-RPC ------------------------------------------------------------------------------


def rpc_call(
    transport: str, address: str, method: str, params: list | None = None, *, timeout: float
) -> Any:
    """Call ``method`` on the proxy and return its JSON-RPC result."""
    request_id = next(_request_ids)
    request: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": request_id}
    if params:
        request["params"] = params
    deadline = Deadline(timeout)
    if transport == FIFO:
        raw = _fifo_exchange(address, request, deadline)
    elif transport == UDP:
        raw = _udp_exchange(address, request, deadline)
    elif transport == HTTP:
        raw = _http_exchange(address, request, deadline)
    else:
        raise ProxyError(f"unknown transport {transport!r}")
    return _result_of(raw, request_id)


def _result_of(raw: bytes, request_id: int) -> Any:
    try:
        reply = json.loads(raw.decode("utf-8", errors="replace"))
    except ValueError:
        raise ProxyError(f"the reply is not JSON: {raw[:200]!r}") from None
    if not isinstance(reply, dict):
        raise ProxyError(f"the reply is not a JSON-RPC object: {raw[:200]!r}")
    if reply.get("id") != request_id:
        raise ProxyError(f"the reply answers request {reply.get('id')!r}, not {request_id}")
    if "error" in reply:
        error = reply["error"] if isinstance(reply["error"], dict) else {}
        raise ProxyRpcError(error.get("code"), str(error.get("message", reply["error"])))
    if "result" not in reply:
        raise ProxyError(f"the reply has neither result nor error: {raw[:200]!r}")
    return reply["result"]


def domain_reload(transport: str, address: str, *, timeout: float) -> None:
    """Make the proxy re-read its domain tables; raises ProxyRpcError if the load failed
    (Kamailio then keeps serving the tables it had)."""
    rpc_call(transport, address, "domain.reload", timeout=timeout)


def htable_reload(transport: str, address: str, table: str, *, timeout: float) -> None:
    """Make the proxy re-read one hash table of module htable from its database table;
    raises ProxyRpcError if the load failed or the proxy has no such table (Kamailio then
    keeps serving the items it had)."""
    rpc_call(transport, address, "htable.reload", [table], timeout=timeout)


def htable_set(
    transport: str, address: str, table: str, key: str, value: str, *, is_int: bool, timeout: float
) -> None:
    """Set one item of a hash table of module htable: an integer (htable.seti) or a
    string (htable.sets); replaces the item's value at once."""
    if is_int:
        rpc_call(transport, address, "htable.seti", [table, key, int(value)], timeout=timeout)
    else:
        rpc_call(transport, address, "htable.sets", [table, key, value], timeout=timeout)


def htable_delete(transport: str, address: str, table: str, key: str, *, timeout: float) -> bool:
    """Delete one item of a hash table; False if it was not there (Kamailio answers 404,
    which is no failure: the item is gone either way)."""
    try:
        rpc_call(transport, address, "htable.delete", [table, key], timeout=timeout)
    except ProxyRpcError as exc:
        if exc.code == 404:
            return False
        raise
    return True


def htable_slots(transport: str, address: str, table: str, *, timeout: float) -> int | None:
    """The number of slots of a hash table (htable.listTables), or None if the proxy has
    no table of that name."""
    result = rpc_call(transport, address, "htable.listTables", timeout=timeout)
    try:
        return next((int(t["size"]) for t in result if t.get("name") == table), None)
    except (KeyError, TypeError, ValueError):
        raise ProxyError(f"htable.listTables answered {result!r}") from None


def shm_stats(transport: str, address: str, *, timeout: float) -> ShmStats:
    """The proxy's shared memory in bytes, from core.shmmem.

    Asked in KiB: in bytes Kamailio 5.6 answers in a 32-bit integer, which wraps past
    2 GiB (-m 2200 reads total -1988100096)."""
    result = rpc_call(transport, address, "core.shmmem", ["k"], timeout=timeout)
    try:
        return ShmStats(
            total=int(result["total"]) * 1024,
            free=int(result["free"]) * 1024,
            used=int(result.get("used", 0)) * 1024,
            max_used=int(result.get("max_used", 0)) * 1024,
        )
    except (KeyError, TypeError, ValueError):
        raise ProxyError(f"core.shmmem answered {result!r}") from None


def uptime_seconds(transport: str, address: str, *, timeout: float) -> float:
    """How long the proxy has been running, from core.uptime."""
    result = rpc_call(transport, address, "core.uptime", timeout=timeout)
    try:
        return float(result["uptime"])
    except (KeyError, TypeError, ValueError):
        raise ProxyError(f"core.uptime answered {result!r}") from None


_NOT_REGISTERED = {"AOR not found in location table", "AOR has no contacts"}


@dataclass(frozen=True)
class Contact:
    """One registered contact of an AOR, as module usrloc holds it."""

    address: str
    expires: int | None  # seconds left; None for a permanent contact
    user_agent: str = ""
    received: str = ""
    socket: str = ""


def usrloc_lookup(
    transport: str, address: str, aor: str, *, table: str = "location", timeout: float
) -> list[Contact]:
    """The contacts the proxy holds for ``aor`` (user@domain) in usrloc's ``table``, from
    ul.lookup; none when the AOR is not registered."""
    try:
        result = rpc_call(transport, address, "ul.lookup", [table, aor], timeout=timeout)
    except ProxyRpcError as exc:
        # Kamailio 5.6 answers an AOR without contacts with error 500 and one of these.
        if exc.message in _NOT_REGISTERED:
            return []
        raise
    entries = result.get("Contacts") if isinstance(result, dict) else None
    if not isinstance(entries, list):
        raise ProxyError(f"ul.lookup answered {str(result)[:200]!r}")
    return [_contact(entry) for entry in entries]


def _contact(entry: Any) -> Contact:
    fields = entry.get("Contact") if isinstance(entry, dict) else None
    if not isinstance(fields, dict) or not isinstance(fields.get("Address"), str):
        raise ProxyError(f"ul.lookup answered a contact {str(entry)[:200]!r}")
    expires = fields.get("Expires")

    def text(key: str) -> str:
        value = fields.get(key)
        # usrloc's words for an empty field.
        return value if isinstance(value, str) and value not in ("[not set]", "n/a") else ""

    return Contact(
        address=fields["Address"],
        # "permanent" for a contact that never expires.
        expires=expires if isinstance(expires, int) else None,
        user_agent=text("User-Agent"),
        received=text("Received"),
        socket=text("Socket"),
    )


# --- FIFO ----------------------------------------------------------------------------------


def _fifo_exchange(path: str, request: dict[str, Any], deadline: Deadline) -> bytes:
    reply_name = f"serweb_{os.getpid()}_{secrets.token_hex(6)}"
    reply_path = os.path.join(os.path.dirname(path), reply_name)
    payload = json.dumps({**request, "reply_name": reply_name}).encode()
    if len(payload) > _PIPE_BUF:
        raise ProxyError(f"request of {len(payload)} bytes is too long for the FIFO")
    _make_reply_fifo(reply_path)
    try:
        # Open our end first, non-blocking: opening a FIFO for reading never waits then.
        reply_fd = os.open(reply_path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            _fifo_write(path, payload, deadline)
            return _fifo_read_reply(reply_fd, deadline)
        finally:
            os.close(reply_fd)
    finally:
        try:
            os.unlink(reply_path)
        except FileNotFoundError:
            pass


def _make_reply_fifo(reply_path: str) -> None:
    try:
        os.mkfifo(reply_path, 0o660)
        # The umask may have taken the group's write bit; Kamailio, running as another
        # user of our group, must be able to open the FIFO to answer.
        os.chmod(reply_path, 0o660)
    except OSError as exc:
        raise ProxyError(f"cannot create the reply FIFO {reply_path}: {exc.strerror}") from None


def _fifo_write(path: str, payload: bytes, deadline: Deadline) -> None:
    try:
        if not stat.S_ISFIFO(os.stat(path).st_mode):
            raise ProxyError(f"{path} is not a FIFO")
    except FileNotFoundError:
        raise ProxyUnreachable(f"{path} does not exist: Kamailio is not running") from None
    try:
        # Without O_NONBLOCK this open waits forever for a reader (a stopped Kamailio).
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno in (errno.ENXIO, errno.ENOENT):
            raise ProxyUnreachable(f"nobody reads {path}: Kamailio is not running") from None
        raise ProxyUnreachable(f"cannot open {path}: {exc.strerror}") from None
    try:
        while True:
            try:
                written = os.write(fd, payload)
            except BlockingIOError:
                # The FIFO is full: Kamailio is busy with earlier requests.
                if not _wait(fd, select.POLLOUT, deadline):
                    raise ProxyTimeout(f"{path} stayed full: Kamailio does not read") from None
                continue
            if written != len(payload):
                raise ProxyError(f"short write to {path}")
            return
    finally:
        os.close(fd)


def _fifo_read_reply(fd: int, deadline: Deadline) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        # Before Kamailio opens the reply FIFO, poll() reports nothing (Linux gives no
        # POLLHUP to a reader that never had a writer), so this waits for the reply.
        if not _wait(fd, select.POLLIN, deadline):
            raise ProxyTimeout("no reply from Kamailio in time")
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            continue
        if not chunk:
            # Kamailio closed its end: the reply is complete.
            if not chunks:
                raise ProxyError("Kamailio closed the reply FIFO without answering")
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > _MAX_REPLY:
            raise ProxyError("the reply is too long")


def _wait(fd: int, event: int, deadline: Deadline) -> bool:
    poller = select.poll()
    poller.register(fd, event)
    while True:
        left = deadline.left_ms()
        if left <= 0:
            return False
        try:
            if poller.poll(left):
                return True
        except InterruptedError:
            continue


# --- UDP -----------------------------------------------------------------------------------


def split_host_port(address: str) -> tuple[str, int]:
    """HOST:PORT or [IPv6]:PORT."""
    host, sep, port = address.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ProxyError(f"{address!r}: expected HOST:PORT")
    return host.strip("[]"), int(port)


def udp_socket(address: str, deadline: Deadline) -> socket.socket:
    host, port = split_host_port(address)
    try:
        family, kind, proto, _name, sockaddr = socket.getaddrinfo(
            host, port, type=socket.SOCK_DGRAM
        )[0]
    except socket.gaierror as exc:
        raise ProxyUnreachable(f"cannot resolve {host}: {exc}") from None
    sock = socket.socket(family, kind, proto)
    try:
        # Connected, so an ICMP port unreachable surfaces as ECONNREFUSED at once.
        sock.connect(sockaddr)
    except OSError as exc:
        sock.close()
        raise ProxyUnreachable(f"cannot reach {address}: {exc.strerror}") from None
    return sock


def _udp_exchange(address: str, request: dict[str, Any], deadline: Deadline) -> bytes:
    sock = udp_socket(address, deadline)
    with sock:
        try:
            sock.send(json.dumps(request).encode())
            while True:
                sock.settimeout(max(deadline.left(), 0.001))
                data = sock.recv(65535)
                # A stray datagram (a late reply to someone else) is skipped.
                if b'"id"' in data:
                    return data
        except ConnectionRefusedError:
            raise ProxyUnreachable(f"nothing listens on {address}") from None
        except TimeoutError:
            raise ProxyTimeout(f"no reply from {address} in time") from None
        except OSError as exc:
            raise ProxyUnreachable(f"{address}: {exc.strerror}") from None


# --- HTTP ----------------------------------------------------------------------------------


def _http_exchange(url: str, request: dict[str, Any], deadline: Deadline) -> bytes:
    http_request = urllib.request.Request(
        url,
        data=json.dumps(request).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(http_request, timeout=max(deadline.left(), 0.001)) as reply:
            return reply.read(_MAX_REPLY)
    except urllib.error.HTTPError as exc:
        # jsonrpcs answers an RPC error with a non-2xx status and the JSON-RPC body.
        body = exc.read(_MAX_REPLY)
        if body.lstrip().startswith(b"{"):
            return body
        raise ProxyError(f"{url} answered HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError | socket.timeout):
            raise ProxyTimeout(f"no reply from {url} in time") from None
        raise ProxyUnreachable(f"cannot reach {url}: {exc.reason}") from None
    except TimeoutError:
        raise ProxyTimeout(f"no reply from {url} in time") from None
    except OSError as exc:
        raise ProxyUnreachable(f"{url}: {exc}") from None

"""The SIP OPTIONS probe: does the proxy serve a name, and as which did? The reference
configuration answers 200 with the name's did in ``X-Serweb-Did``, or 404. Over UDP, with
RFC 3261's retransmissions, within the caller's deadline; errors are transport's."""

import secrets
import time
from dataclasses import dataclass, field

from proxies.transport import Deadline, ProxyTimeout, ProxyUnreachable, udp_socket


@dataclass(frozen=True)
class SipAnswer:
    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)


# RFC 3261 timer T1: retransmit an unanswered request over UDP after 0.5 s, then doubling.
_T1 = 0.5


def options(address: str, name: str, *, timeout: float) -> SipAnswer:
    """Send ``OPTIONS sip:<name>`` to the proxy at HOST:PORT over UDP and return its final
    answer. The reference configuration answers 200 with the name's did in
    ``X-Serweb-Did`` for a served name and 404 for any other."""
    deadline = Deadline(timeout)
    sock = udp_socket(address, deadline)
    with sock:
        local_host, local_port = sock.getsockname()[:2]
        call_id = secrets.token_hex(12)
        message = _options_request(name, _uri_host(local_host), local_port, call_id)
        interval = _T1
        try:
            sock.send(message)
            next_send = time.monotonic() + interval
            while True:
                wait = min(deadline.left(), max(next_send - time.monotonic(), 0.001))
                if deadline.left() <= 0:
                    raise ProxyTimeout(f"no answer to OPTIONS sip:{name} from {address}")
                sock.settimeout(wait)
                try:
                    data = sock.recv(65535)
                except TimeoutError:
                    interval = min(interval * 2, 4.0)
                    next_send = time.monotonic() + interval
                    sock.send(message)
                    continue
                answer = _parse_answer(data, call_id)
                if answer is not None and answer.status >= 200:
                    return answer
        except ConnectionRefusedError:
            raise ProxyUnreachable(f"nothing answers SIP on {address}") from None
        except OSError as exc:
            raise ProxyUnreachable(f"{address}: {exc.strerror}") from None


def _uri_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _options_request(name: str, local_host: str, local_port: int, call_id: str) -> bytes:
    lines = [
        f"OPTIONS sip:{name} SIP/2.0",
        f"Via: SIP/2.0/UDP {local_host}:{local_port};branch=z9hG4bK{secrets.token_hex(8)};rport",
        "Max-Forwards: 70",
        f"From: <sip:serweb-probe@{local_host}>;tag={secrets.token_hex(4)}",
        f"To: <sip:{name}>",
        f"Call-ID: {call_id}",
        "CSeq: 1 OPTIONS",
        "User-Agent: serweb-probe",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _parse_answer(data: bytes, call_id: str) -> SipAnswer | None:
    head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", errors="replace")
    status_line, *header_lines = head.split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("SIP/2.0") or not parts[1].isdigit():
        return None
    headers: dict[str, str] = {}
    for line in header_lines:
        key, sep, value = line.partition(":")
        if sep:
            headers[key.strip().lower()] = value.strip()
    if headers.get("call-id", headers.get("i")) != call_id:
        return None
    return SipAnswer(
        status=int(parts[1]), reason=parts[2] if len(parts) > 2 else "", headers=headers
    )

"""A load generator for HTTP on loopback: client threads with a keep-alive connection each,
asking endpoints until the time is up; throughput, latency percentiles and errors."""

import http.client
import random
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.common import percentile


@dataclass(frozen=True)
class Endpoint:
    label: str
    url: Callable[[random.Random], str]  # a path, maybe a different one each time
    headers: dict[str, str]
    expect: int = 200


@dataclass
class Sample:
    latencies: list[float] = field(default_factory=list)  # of every answer
    asked: int = 0
    errors: int = 0  # answers with another status, and requests that got none
    example: str = ""


def drive(
    port: int, chosen: list[Endpoint], *, clients: int, seconds: float
) -> tuple[dict[str, Sample], float]:
    """``clients`` threads asking ``chosen`` endpoints (one at random per request) until
    the time is up; what each endpoint answered, and the seconds it took. A server that
    closes the connection after an answer (gunicorn's sync workers) gets a new one."""
    samples: dict[str, Sample] = defaultdict(Sample)
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    deadline = [0.0]

    def client(number: int) -> None:
        rng = random.Random(number)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: dict[str, Sample] = defaultdict(Sample)
        start.wait()
        while time.monotonic() < deadline[0]:
            endpoint = chosen[0] if len(chosen) == 1 else rng.choice(chosen)
            sample = mine[endpoint.label]
            sample.asked += 1
            began = time.perf_counter()
            try:
                connection.request("GET", endpoint.url(rng), headers=endpoint.headers)
                answer = connection.getresponse()
                answer.read()
                status = answer.status
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                sample.errors += 1
                sample.example = sample.example or repr(exc)
                continue
            sample.latencies.append(time.perf_counter() - began)
            if status != endpoint.expect:
                sample.errors += 1
                sample.example = sample.example or f"answered {status}"
        connection.close()
        with lock:
            for label, sample in mine.items():
                total = samples[label]
                total.latencies += sample.latencies
                total.asked += sample.asked
                total.errors += sample.errors
                total.example = total.example or sample.example

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    began = time.monotonic()
    deadline[0] = began + seconds
    start.wait()
    for thread in threads:
        thread.join()
    return samples, time.monotonic() - began


@dataclass
class Figures:
    rate: float
    p50: float
    p99: float
    error_rate: float
    example: str


def figures(sample: Sample, seconds: float) -> Figures:
    answered = len(sample.latencies)
    return Figures(
        rate=answered / seconds,
        p50=percentile(sample.latencies, 0.5) * 1000 if answered else float("nan"),
        p99=percentile(sample.latencies, 0.99) * 1000 if answered else float("nan"),
        error_rate=sample.errors / max(sample.asked, 1),
        example=sample.example,
    )


def median_figures(runs: list[Figures]) -> Figures:
    return Figures(
        rate=statistics.median(f.rate for f in runs),
        p50=statistics.median(f.p50 for f in runs),
        p99=statistics.median(f.p99 for f in runs),
        error_rate=statistics.median(f.error_rate for f in runs),
        example=next((f.example for f in runs if f.example), ""),
    )

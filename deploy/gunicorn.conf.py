"""gunicorn for serweb's web process (deploy/systemd/serweb-web.service).

Each setting may be changed from the environment (GUNICORN_CMD_ARGS works too)."""

import os
from pathlib import Path

bind = os.environ.get("SERWEB_BIND", "unix:/run/serweb/web.sock")
workers = int(os.environ.get("SERWEB_WEB_WORKERS", str(2 * (os.cpu_count() or 1) + 1)))
# Measured (bench/load.py, bench/README.md): threads keep a slow page from holding up the
# proxies' lookups behind it, 2-3x the throughput of sync workers at a fraction of their
# latency; 8 or 16 threads measured no better than 4, and each thread keeps a database
# connection (DATABASE_CONN_MAX_AGE), so PostgreSQL needs workers x threads per host.
worker_class = os.environ.get("SERWEB_WEB_WORKER_CLASS", "gthread")
threads = int(os.environ.get("SERWEB_WEB_THREADS", "4"))
# A request that needs longer is stuck: the proxy's lookup answers within a second, a
# page or an API call within a few; long work runs as a job in the workers.
timeout = int(os.environ.get("SERWEB_WEB_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# A worker is replaced after this many requests, so a slow leak cannot grow for ever.
max_requests = int(os.environ.get("SERWEB_WEB_MAX_REQUESTS", "5000"))
max_requests_jitter = max_requests // 10
# nginx on the same host: its X-Forwarded-* are believed (serweb itself believes
# X-Forwarded-For only through SERWEB_HTTP_PROXIES).
forwarded_allow_ips = os.environ.get("SERWEB_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# gunicorn's control socket (gunicornc) is not used: systemd starts, reloads and stops it.
control_socket_disable = True
accesslog = "-"
errorlog = "-"
# Request lines in the access log carry no query string secrets: serweb takes none in URLs.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'


def on_starting(server):
    # The metrics directory lives in /run (emptied at boot) and is shared with the Celery
    # workers of this host: it is created, never emptied here, since a worker still writes
    # its files while the web restarts.
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)


def child_exit(server, worker):
    # A gone worker's gauges stop counting; its counters stay in the totals.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

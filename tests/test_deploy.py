"""What deploy/ ships, run for real on loopback: nginx with deploy/nginx/serweb.conf (paths
and ports moved into a scratch directory, a self-signed certificate) in front of gunicorn
with deploy/gunicorn.conf.py (two workers, production settings from the environment,
PostgreSQL). Plain HTTP goes to HTTPS except the proxies' lookup; pages come over HTTPS
with HSTS and secure cookies and without a redirect loop (serweb believes nginx's
X-Forwarded-Proto); nginx serves the collected static files; an operator signs in; the
metrics of both web workers add up; the systemd units are well-formed."""

import http.client
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from tests.helpers import database_url
from tests.kamailio_harness import free_port, scratch_dir, stop_process, wait_until

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"

pytestmark = pytest.mark.postgres


def render_site(directory: Path, http_port: int, https_port: int) -> Path:
    site = (DEPLOY / "nginx" / "serweb.conf").read_text()
    site = site.replace("unix:/run/serweb/web.sock", f"unix:{directory}/web.sock")
    site = re.sub(r"^\s*listen \[::\]:\d+.*\n", "", site, flags=re.M)
    site = site.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    site = site.replace("listen 443 ssl", f"listen 127.0.0.1:{https_port} ssl")
    site = site.replace("/etc/ssl/serweb/", f"{directory}/tls/")
    site = site.replace("/srv/serweb/static/", f"{directory}/static/")
    site = site.replace("/etc/nginx/serweb-proxy.conf", str(DEPLOY / "nginx" / "serweb-proxy.conf"))
    (directory / "site.conf").write_text(site)
    main = f"""
pid {directory}/nginx.pid;
error_log {directory}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    access_log {directory}/nginx-access.log;
    client_body_temp_path {directory}/body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    include {directory}/site.conf;
}}
"""
    (directory / "nginx.conf").write_text(main)
    return directory / "nginx.conf"


def self_signed(directory: Path) -> None:
    tls = directory / "tls"
    tls.mkdir()
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(tls / "privkey.pem"),
            "-out",
            str(tls / "fullchain.pem"),
        ],
        check=True,
        capture_output=True,
    )


class Site:
    def __init__(self, directory: Path, database: str):
        self.directory = directory
        self.http_port = free_port(0x1)
        self.https_port = free_port(0x1)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SERWEB_", "DJANGO_"))},
            "DJANGO_SETTINGS_MODULE": "serweb.settings",
            "DATABASE_URL": database,
            "SECRET_KEY": "a-deployment-key-" + "x" * 40,
            "ALLOWED_HOSTS": "localhost,127.0.0.1",
            "SERWEB_HTTP_PROXIES": "1",
            "SERWEB_ENV_FILE": "/nonexistent",
            "SERWEB_VAR_DIR": str(directory / "var"),
            "STATIC_ROOT": str(directory / "static"),
            "SERWEB_BIND": f"unix:{directory}/web.sock",
            "SERWEB_WEB_WORKERS": "2",
            "PROMETHEUS_MULTIPROC_DIR": str(directory / "metrics"),
            "PYTHONPATH": str(ROOT),
        }
        self.processes: list[subprocess.Popen] = []

    def start(self) -> None:
        # nginx's workers run as another user: they must reach the socket, as they reach
        # /run/serweb (RuntimeDirectoryMode=0755 in the web's unit).
        self.directory.chmod(0o755)
        self_signed(self.directory)
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
        )
        log = open(self.directory / "gunicorn.log", "a")
        self.processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "-c",
                    str(DEPLOY / "gunicorn.conf.py"),
                    "serweb.wsgi:application",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        conf = render_site(self.directory, self.http_port, self.https_port)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        check = subprocess.run([nginx, "-t", "-c", str(conf)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        self.processes.append(
            subprocess.Popen(
                [nginx, "-c", str(conf), "-g", "daemon off;"],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        wait_until(self._ready, timeout=30, what="nginx and gunicorn answering")

    def _ready(self) -> bool:
        for process in self.processes:
            if process.poll() is not None:
                raise AssertionError((self.directory / "gunicorn.log").read_text())
        try:
            return self.get("/health")[0] == 200
        except OSError:
            return False

    def stop(self) -> None:
        for process in reversed(self.processes):
            stop_process(process)

    def request(self, method, path, *, https=True, body=None, headers=None):
        if https:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            connection = http.client.HTTPSConnection(
                "127.0.0.1", self.https_port, context=context, timeout=10
            )
        else:
            connection = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            answer = connection.getresponse()
            return (
                answer.status,
                dict(answer.getheaders()),
                answer.read().decode(errors="replace"),
                answer.msg,
            )
        finally:
            connection.close()

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)


@pytest.fixture
def site(transactional_db):
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        pytest.fail("nginx is missing: scripts/setup --system installs it")
    with scratch_dir("serweb-deploy-") as directory:
        running = Site(directory, database_url())
        try:
            running.start()
            yield running
        finally:
            running.stop()


def cookies_of(message) -> dict[str, str]:
    jar = {}
    for header in message.get_all("Set-Cookie") or []:
        cookie = SimpleCookie(header)
        for name, morsel in cookie.items():
            jar[name] = (morsel.value, header)
    return jar


def test_the_shipped_site_serves_serweb_over_https(site, alice):
    # The server runs production settings, whose hashers do not read the tests' fast one.
    alice.password = PBKDF2PasswordHasher().encode("alice-pass", "deploytestsalt")
    alice.save(update_fields=["password"])
    # Plain HTTP: pages are sent to HTTPS, the proxies' lookup is answered as it is.
    status, headers, _body, _msg = site.get("/accounts/login/", https=False)
    assert status == 301
    assert headers["Location"] == "https://127.0.0.1/accounts/login/"
    status, _headers, body, _msg = site.get("/proxy/lookup?host=x.example.org", https=False)
    assert status == 404 and '"ours": false' in body

    # HTTPS: served (serweb sees the forwarded scheme, so no redirect loop), HSTS, the
    # policy, and cookies that never travel over plain HTTP.
    status, headers, body, message = site.get("/accounts/login/")
    assert status == 200, body[:500]
    assert headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    csrf_value, csrf_header = cookies_of(message)["csrftoken"]
    assert "Secure" in csrf_header

    # The static files come from nginx, with a long cache life.
    stylesheet = re.search(r'href="(/static/portal/portal[^"]*\.css)"', body)[1]
    status, headers, _css, _msg = site.get(stylesheet)
    assert status == 200
    assert "immutable" in headers["Cache-Control"]

    # An operator signs in over HTTPS (CSRF checks the origin against the HTTPS one).
    form = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)[1]
    status, headers, body, message = site.request(
        "POST",
        "/accounts/login/",
        body=urlencode({"login": "alice", "password": "alice-pass", "csrfmiddlewaretoken": form}),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={csrf_value}",
            "Origin": f"https://127.0.0.1:{site.https_port}",
            "Referer": f"https://127.0.0.1:{site.https_port}/accounts/login/",
            "Host": f"127.0.0.1:{site.https_port}",
        },
    )
    assert status == 302, body[:500]
    session, session_header = cookies_of(message)["sessionid"]
    assert "Secure" in session_header and "HttpOnly" in session_header
    status, _headers, body, _msg = site.get(
        "/dashboard/", headers={"Cookie": f"sessionid={session}"}
    )
    assert status == 200 and "Dashboard" in body


def lookups_counted(site) -> float:
    status, _headers, body, _msg = site.get("/metrics")
    assert status == 200
    return sum(
        float(value) for value in re.findall(r"^serweb_lookups_total\{[^}]*\} (\S+)$", body, re.M)
    )


def ask_lookups(site, count: int, start: int) -> None:
    for i in range(start, start + count):
        status, _headers, _body, _msg = site.get(
            f"/proxy/lookup?host=n{i}.example.org", https=False
        )
        assert status == 404


def test_the_metrics_of_every_web_worker_add_up_even_after_one_is_gone(site, db):
    ask_lookups(site, 20, 0)
    assert lookups_counted(site) == 20
    [counted] = (site.directory / "metrics").glob("counter_*.db")
    worker = int(counted.stem.split("_")[1])

    # The worker that counted is replaced (gunicorn starts another): its counts stay.
    os.kill(worker, signal.SIGTERM)
    wait_until(lambda: not Path(f"/proc/{worker}").exists(), timeout=10, what="the worker gone")
    wait_until(lambda: site.get("/health")[0] == 200, timeout=20, what="a new worker")
    ask_lookups(site, 20, 20)

    assert lookups_counted(site) == 40
    assert len(list((site.directory / "metrics").glob("counter_*.db"))) >= 2


def test_behind_nginx_serweb_judges_the_client_nginx_saw(site, db):
    # A client's own X-Forwarded-For comes first, nginx appends the address it saw: the
    # monitoring check reads nginx's (loopback here), not the one the client wrote.
    status, _headers, _body, _msg = site.get("/metrics", headers={"X-Forwarded-For": "192.0.2.1"})
    assert status == 200
    status, _headers, body, _msg = site.get(
        "/health", headers={"X-Forwarded-For": "127.0.0.1"}, https=True
    )
    assert status == 200 and '"database"' in body


def test_the_systemd_units_are_well_formed(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is missing (Debian's systemd package)")
    for unit in sorted((DEPLOY / "systemd").glob("*.service")):
        text = unit.read_text()
        for command in re.findall(r"^Exec\w+=(\S+)", text, re.M):
            assert command.startswith(("/srv/serweb/.venv/bin/", "/bin/")), command
            if command.startswith("/srv/serweb/.venv/bin/"):
                name = command.rsplit("/", 1)[1]
                assert (ROOT / ".venv" / "bin" / name).exists(), f"{unit.name}: {name}"
        # Verified with the checkout in place of /srv/serweb and a user that exists here.
        local = text.replace("/srv/serweb", str(ROOT)).replace("User=serweb", "User=root")
        local = local.replace("Group=serweb", "Group=root")
        local = local.replace(
            "EnvironmentFile=/etc/serweb/serweb.env", f"EnvironmentFile=-{tmp_path}/env"
        )
        copy = tmp_path / unit.name
        copy.write_text(local)
        result = subprocess.run(
            [analyze, "verify", "--man=no", str(copy)], capture_output=True, text=True, timeout=60
        )
        problems = [
            line
            for line in (result.stdout + result.stderr).splitlines()
            if unit.name in line and "Failed to" not in line or "Unknown" in line
        ]
        assert problems == [], "\n".join(problems)

"""CLI start-up: how long a `serweb` command takes from exec to exit.

    .venv/bin/python bench/cli_startup.py [--runs 15] [--compare OTHER_CHECKOUT]

Migrates an embedded SQLite database in a temporary var/ (with a few domains), then runs
each command (`python manage.py WORD ...`) --runs times, alternating commands so a busy
moment of the shared machine hits them alike, and prints the median and p90 wall time of
each beside two floors measured the same way: the interpreter alone (`python -c pass`) and
the interpreter importing Django and calling django.setup() on serweb's settings.
--compare runs the same commands from another checkout (an older commit, say) in the same
rounds, with the same environment and database.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"

FLOORS = {
    "python -c pass": [str(PYTHON), "-c", "pass"],
    "django.setup()": [
        str(PYTHON),
        "-c",
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'serweb.settings'; "
        "django.setup()",
    ],
}
WORDS = {
    "--help": ["--help"],
    "domain list": ["domain", "list"],
    "domain show": ["domain", "show", "bench-1.example.net"],
    "subscriber list": ["subscriber", "list"],
    "domain attr set": ["domain", "attr", "set", "bench-1.example.net", "max_contacts=4"],
}


def commands(checkouts: list[Path]) -> dict[str, list[str]]:
    found = dict(FLOORS)
    for checkout in checkouts:
        label = "" if checkout == ROOT else f" [{checkout.name}]"
        for name, words in WORDS.items():
            found[f"{name}{label}"] = [str(PYTHON), str(checkout / "manage.py"), *words]
    return found


def run(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--compare", type=Path, action="append", default=[], metavar="CHECKOUT")
    arguments = parser.parse_args()
    measured = commands([ROOT, *[path.resolve() for path in arguments.compare]])

    with tempfile.TemporaryDirectory(prefix="serweb-bench-cli-") as var:
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"}
        }
        env.update(SERWEB_VAR_DIR=var, SECRET_KEY="serweb-bench-only-key")
        subprocess.run(
            [str(PYTHON), "manage.py", "migrate", "-v", "0"], env=env, cwd=ROOT, check=True
        )
        for number in range(1, 4):
            subprocess.run(
                [str(PYTHON), "manage.py", "domain", "add", f"bench-{number}.example.net"],
                env=env,
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
        timings: dict[str, list[float]] = {name: [] for name in measured}
        for _ in range(arguments.runs):
            for name, command in measured.items():
                timings[name].append(run(command, env))

    print(f"{arguments.runs} runs each, wall time from exec to exit")
    for name, values in timings.items():
        values.sort()
        p90 = values[min(len(values) - 1, round(0.9 * len(values)) - 1)]
        print(
            f"  {name:26} median {statistics.median(values) * 1000:6.0f} ms   p90 {p90 * 1000:6.0f} ms"
        )
    setup = statistics.median(timings["django.setup()"])
    for name in timings:
        if name.startswith("domain list"):
            ratio = statistics.median(timings[name]) / setup
            print(f"{name} / django.setup(): {ratio:.2f}x")


if __name__ == "__main__":
    sys.exit(main())

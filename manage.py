#!/usr/bin/env python3
import os
import sys
from pathlib import Path

# Run from the checkout's own environment (scripts/setup creates .venv), whichever python3
# the shebang found.
VENV_PYTHON = Path(__file__).resolve().parent / ".venv" / "bin" / "python"


def main() -> None:
    if VENV_PYTHON.exists() and Path(sys.prefix).resolve() != VENV_PYTHON.parent.parent.resolve():
        os.execv(VENV_PYTHON, [str(VENV_PYTHON), *sys.argv])
    from serweb.cli import run

    run(sys.argv)


if __name__ == "__main__":
    main()

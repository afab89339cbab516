"""Environment readers that fail loudly on a bad value instead of guessing."""

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r}: expected one of 1/0, true/false, yes/no, on/off")


def env_int(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r}: expected an integer") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value}: must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name}={value}: must be at most {maximum}")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r}: expected a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ImproperlyConfigured(f"{name}={raw!r}: expected a finite number")
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value}: must be at least {minimum}")
    return value


def env_list(name: str, default: str = "") -> list[str]:
    raw = os.environ.get(name, default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def load_env_file(path: Path) -> None:
    """Set the ``KEY=VALUE`` lines of a .env file that the environment does not set already.

    Blank lines and ``#`` comments are skipped; a value may be wrapped in single or double
    quotes. A line that is not an assignment is refused, naming the line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return
    except (OSError, UnicodeDecodeError) as exc:
        raise ImproperlyConfigured(f"{path}: cannot be read ({exc})") from None
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key.isidentifier():
            raise ImproperlyConfigured(f"{path}, line {number}: expected KEY=VALUE")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        os.environ.setdefault(key, value)


def env_secret_key(name: str, *, generated_in: Path | None) -> str:
    """The secret key from the environment; unset, the one generated in ``generated_in``
    (created on first use, readable by its owner only) when that is allowed."""
    raw = os.environ.get(name)
    if raw is not None:
        if not raw.strip():
            raise ImproperlyConfigured(f"{name} is set but empty: set a long random value")
        return raw
    if generated_in is None:
        raise ImproperlyConfigured(
            f"{name} is not set: set it to a long random value (serweb generates one in var/ "
            "only for the embedded SQLite default and DEBUG runs)"
        )
    try:
        return generated_in.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    generated_in.parent.mkdir(parents=True, exist_ok=True)
    # Written aside, then linked into place: two processes starting at once both end up
    # with the first key linked, never with a half-written file.
    draft = generated_in.with_name(f".{generated_in.name}.{os.getpid()}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(secrets.token_urlsafe(50) + "\n")
    try:
        os.link(draft, generated_in)
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return generated_in.read_text(encoding="ascii").strip()

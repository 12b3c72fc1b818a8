#!/usr/bin/env python3
"""The project's one place for developer commands; CI calls only this file.

    python3 scripts/dev.py run      # the example API on http://127.0.0.1:8000 (SQLite file)
    python3 scripts/dev.py test     # every check: lint, format, types, tests on SQLite and
                                    # PostgreSQL, schemathesis against the example app, docs
    python3 scripts/dev.py fuzz     # only the schemathesis runs (scripts/fuzz.py)
    python3 scripts/dev.py bench    # the benchmark suite, when it exists

Each command creates (or reuses) `.venv` and installs the package in editable mode with its
`dev` extras. The install is redone only when `pyproject.toml` changes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
#: The browser tests/test_example_browser.py drives: Debian's chromium package.
CHROMIUM = Path("/usr/bin/chromium")


def say(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def run(*args: str | Path, env: dict[str, str] | None = None) -> None:
    command = [str(a) for a in args]
    print("$", " ".join(command), flush=True)
    completed = subprocess.run(command, cwd=ROOT, env=env, check=False)
    if completed.returncode != 0:
        print(f"FAILED ({completed.returncode}): {' '.join(command)}", flush=True)
        sys.exit(completed.returncode)


def ensure_venv() -> None:
    if sys.version_info < (3, 10):  # noqa: UP036 - this script may run on any python3
        sys.exit("fastapi_viewsets needs Python 3.10 or newer to run its tools.")
    if not PYTHON.exists():
        say(f"creating the virtual environment in {VENV}")
        run(sys.executable, "-m", "venv", VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    marker = VENV / ".fastapi_viewsets-installed"
    if marker.exists() and marker.read_text() == digest:
        return
    say("installing fastapi_viewsets in editable mode with its dev extras")
    run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PYTHON, "-m", "pip", "install", "--quiet", "-e", ".[dev]")
    marker.write_text(digest)


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 2
        ):
            return True
    except OSError:
        return False


def postgres_reachable(url: str) -> bool:
    return reachable(url, 5432)


def start_redis(url: str) -> None:
    """Start a redis-server for the tests, as CI machines have one installed but maybe down."""
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost") or not shutil.which("redis-server"):
        return
    subprocess.run(
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            str(parts.port or 6379),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        check=False,
    )


def start_postgres() -> None:
    """Start the machine's PostgreSQL cluster, as CI machines have one installed but maybe down."""
    if not shutil.which("pg_ctlcluster") or not Path("/etc/postgresql").is_dir():
        return
    for version in sorted(os.listdir("/etc/postgresql")):
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
            check=False,
        )


def install_chromium() -> None:
    """Install Debian's chromium for the browser tests, as CI machines may not have it (CI runs
    as root, as for starting PostgreSQL). If that fails, the browser tests fail under CI and
    say why."""
    if not shutil.which("apt-get"):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"]):
        print("$", " ".join(command), flush=True)
        subprocess.run(command, env=env, check=False)


def cmd_run() -> None:
    ensure_venv()
    # The rest of the command line goes to the example: run --host 0.0.0.0 --port 8080.
    command = [str(PYTHON), "-m", "example_project", *sys.argv[2:]]
    print("$", " ".join(command), flush=True)
    # The server replaces this process, so a signal sent to `dev.py run` (kill, a supervisor
    # stopping it) reaches uvicorn rather than leaving it running, holding the port.
    os.chdir(ROOT)
    os.execv(command[0], command)


def cmd_test() -> None:
    ensure_venv()
    say("ruff: lint")
    run(PYTHON, "-m", "ruff", "check", ".")
    say("ruff: format")
    run(PYTHON, "-m", "ruff", "format", "--check", ".")
    say("mypy --strict on fastapi_viewsets/")
    run(PYTHON, "-m", "mypy", "--strict", "fastapi_viewsets")

    ci = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
    redis_url = os.environ.get("TEST_REDIS_URL") or DEFAULT_REDIS_URL
    if not reachable(redis_url, 6379) and ci:
        say("Redis is down; starting it")
        start_redis(redis_url)
        for _ in range(30):
            if reachable(redis_url, 6379):
                break
            time.sleep(1)
    # tests/conftest.py skips the tests that need Redis, with a reason, when it cannot be
    # reached, and fails them instead when CI is set.
    if not CHROMIUM.exists() and ci:
        say("chromium is missing; installing Debian's package for the browser tests")
        install_chromium()
    # tests/test_example_browser.py skips without chromium (or Playwright), with a reason, and
    # fails instead when CI is set.

    env = {k: v for k, v in os.environ.items() if k != "TORTOISE_TEST_DB"}
    say("pytest on SQLite, with branch coverage")
    run(PYTHON, "-m", "pytest", "--cov", "--cov-report=term", "--cov-fail-under=95", env=env)

    pg_url = os.environ.get("TORTOISE_TEST_DB") or DEFAULT_PG_URL
    if not postgres_reachable(pg_url) and ci:
        say("PostgreSQL is down; starting it")
        start_postgres()
        for _ in range(30):
            if postgres_reachable(pg_url):
                break
            time.sleep(1)
    say(f"pytest on PostgreSQL ({pg_url})")
    # tests/conftest.py skips with a reason when the database cannot be reached, and fails
    # instead when CI is set.
    run(PYTHON, "-m", "pytest", env={**env, "TORTOISE_TEST_DB": pg_url})

    say("schemathesis --checks all against the example app on SQLite, anonymous and signed in")
    run(PYTHON, ROOT / "scripts" / "fuzz.py")

    say("mkdocs build --strict")
    with tempfile.TemporaryDirectory() as site:
        run(
            PYTHON,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--quiet",
            "--site-dir",
            site,
            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        )
    say("all checks passed")


def cmd_fuzz() -> None:
    ensure_venv()
    run(PYTHON, ROOT / "scripts" / "fuzz.py", *sys.argv[2:])


def cmd_bench() -> None:
    ensure_venv()
    bench = ROOT / "benchmarks"
    if not bench.is_dir():
        sys.exit("There is no benchmark suite yet (benchmarks/ does not exist).")
    run(PYTHON, "-m", "benchmarks", *sys.argv[2:])


COMMANDS = {"run": cmd_run, "test": cmd_test, "fuzz": cmd_fuzz, "bench": cmd_bench}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: python3 scripts/dev.py {{{'|'.join(COMMANDS)}}}")
    COMMANDS[sys.argv[1]]()


if __name__ == "__main__":
    main()

"""Fuzz the example API with schemathesis, as ``python3 scripts/dev.py test`` does.

::

    .venv/bin/python scripts/fuzz.py                    # both runs, as CI does
    .venv/bin/python scripts/fuzz.py authenticated      # one of them
    .venv/bin/python scripts/fuzz.py anonymous -- --include-path-regex '^/tasks' -n 200

(``python3 scripts/dev.py fuzz`` runs the first line.) Each run starts the example app
(``example_project.app.create_app``) in its own uvicorn process, on a new SQLite file in a
temporary directory and a free port, seeded with the demo data, and runs
``schemathesis run --checks all`` against its ``/openapi.json``: once anonymous, once with the
bearer token of the demo user ``alice`` (a token ``POST /auth/token`` gave, as the value of
the API's ``HTTPBearer`` scheme). The settings (a fixed seed, 100 examples per operation and
phase, one worker) are in scripts/schemathesis.toml; the hooks (a fresh Idempotency-Key per
request, the library's open defects) in scripts/schemathesis_hooks.py. Arguments after ``--``
go to ``schemathesis run`` and override the file (``-n 20``, ``--seed 7``, ``--max-time 300``
to keep fuzzing for five minutes).

A run fails on any failed check (a 5xx, an undocumented status, a body unlike its schema, ...),
on a traceback in the server's log (an error after the response, in a background task, counts
too), and when it takes longer than ``RUN_TIMEOUT`` seconds. Each takes 30 to 60 seconds.

For the fuzzer's sake the server differs from ``python -m example_project`` in two settings: a
password hash costs 1,000 PBKDF2 rounds, not 600,000 (every login and sign-up would otherwise
cost a third of a second of CPU), and anonymous reads are not throttled to 100 a minute
(otherwise most anonymous requests would be answered 429 and test nothing).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# This checkout's example_project and fastapi_viewsets, whatever else the environment has.
sys.path.insert(0, str(ROOT))
CONFIG = ROOT / "scripts" / "schemathesis.toml"
HOOKS = ROOT / "scripts" / "schemathesis_hooks.py"
#: The seconds one run may take (each takes under a minute) before it is stopped and failed;
#: ``--max-time`` after ``--`` raises it to fit.
RUN_TIMEOUT = 300
STARTUP_TIMEOUT = 30
RUNS = ("anonymous", "authenticated")
USER = "alice"


def say(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(port: int, db_url: str) -> None:
    """The server process: the example app as the fuzzer gets it (see the module's docstring)."""
    import uvicorn

    from example_project import auth, views
    from example_project.app import create_app

    auth.PASSWORD_ITERATIONS = 1_000
    views.AnonymousReads.rate = "1000000/minute"
    uvicorn.run(create_app(db_url), host="127.0.0.1", port=port, log_level="warning")


def request(url: str, body: dict[str, str] | None = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if body is not None else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data, headers), timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_until_up(server: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        if server.poll() is not None:
            sys.exit(f"The server exited with {server.returncode}:\n{log.read_text()}")
        try:
            if request(f"{url}/openapi.json")[0] == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            sys.exit(f"The server did not answer in {STARTUP_TIMEOUT} s:\n{log.read_text()}")
        time.sleep(0.1)


def token(url: str) -> str:
    from example_project.seed import DEMO_PASSWORDS

    status, body = request(
        f"{url}/auth/token", {"username": USER, "password": DEMO_PASSWORDS[USER]}
    )
    if status != 200:
        sys.exit(f"Logging in as {USER} answered {status}: {body!r}")
    return str(json.loads(body)["access_token"])


def stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def run_timeout(extra: list[str]) -> int:
    """``RUN_TIMEOUT``, or more when ``--max-time`` asks for a longer run."""
    for i, arg in enumerate(extra):
        if arg.startswith("--max-time"):
            value = arg.partition("=")[2] or (extra[i + 1] if i + 1 < len(extra) else "0")
            return max(RUN_TIMEOUT, int(value) + 120)
    return RUN_TIMEOUT


def fuzz(run: str, extra: list[str]) -> bool:
    """One run against a server of its own; whether it passed."""
    say(f"schemathesis, {run}")
    timeout = run_timeout(extra)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = Path(tmp) / "server.log"
        # The store of throttles and idempotency keys is the process's memory, whatever the
        # shell names.
        env = {k: v for k, v in os.environ.items() if k != "FASTAPI_VIEWSETS_STORE"}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        db_url = f"sqlite://{Path(tmp) / 'example.sqlite3'}"
        with log.open("wb") as out:
            server = subprocess.Popen(
                [sys.executable, __file__, "--serve", str(port), db_url],
                cwd=tmp,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_until_up(server, url, log)
            config = CONFIG
            if run == "authenticated":
                # Given as the token of the API's security scheme rather than as a header
                # (-H "Authorization: Bearer ..."): schemathesis adds -H headers to every
                # request, even to those that test an operation without its Authorization
                # header, which then fail the missing_required_header check.
                config = Path(tmp) / "schemathesis.toml"
                config.write_text(
                    f'{CONFIG.read_text()}\n[auth.openapi.HTTPBearer]\nbearer = "{token(url)}"\n'
                )
            command = [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "--config-file",
                str(config),
                "run",
                f"{url}/openapi.json",
                "--checks",
                "all",
                *extra,
            ]
            print("$", " ".join(command), flush=True)
            try:
                completed = subprocess.run(
                    command,
                    cwd=tmp,
                    env={**env, "SCHEMATHESIS_HOOKS": str(HOOKS)},
                    check=False,
                    timeout=timeout,
                )
                passed = completed.returncode == 0
            except subprocess.TimeoutExpired:
                print(f"FAILED: the {run} run took more than {timeout} s", flush=True)
                passed = False
        finally:
            stop(server)
        output = log.read_text(errors="replace")
        if "Traceback" in output:
            print(f"FAILED: the server logged an error:\n{output[-20_000:]}", flush=True)
            passed = False
    print(f"{run}: {'passed' if passed else 'FAILED'} in {time.monotonic() - started:.0f} s")
    return passed


def main() -> None:
    if sys.argv[1:2] == ["--serve"]:
        serve(int(sys.argv[2]), sys.argv[3])
        return
    args, extra = sys.argv[1:], []
    if "--" in args:
        args, extra = args[: args.index("--")], args[args.index("--") + 1 :]
    unknown = [arg for arg in args if arg not in RUNS]
    if unknown:
        sys.exit(f"usage: scripts/fuzz.py [{' '.join(RUNS)}] [-- schemathesis options]")
    failed = [run for run in args or RUNS if not fuzz(run, extra)]
    if failed:
        sys.exit(f"schemathesis failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()

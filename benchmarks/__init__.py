"""The fastapi_viewsets benchmark suite: three apps, the same data, the same requests.

Run it through the project's command (it installs the dev dependencies first)::

    python3 scripts/dev.py bench                 # = .venv/bin/python -m benchmarks
    python3 scripts/dev.py bench --quick         # about 30 s
    python3 scripts/dev.py bench --all-dbs       # SQLite, then PostgreSQL
    python3 scripts/dev.py bench --db postgres://postgres@127.0.0.1:5432/test
    python3 scripts/dev.py bench --mode uvicorn --connections 8
    python3 scripts/dev.py bench --profile list20
    python3 scripts/dev.py bench --workloads list20,retrieve --seconds 10 --rounds 20 --check

What is compared (see :mod:`benchmarks.apps`): (a) a careful hand-written FastAPI app, the
baseline; (b) Tortoise's documented ``pydantic_model_creator`` + ``from_queryset`` idiom; (c)
fastapi_viewsets viewsets. The workloads (see :mod:`benchmarks.workloads`): lists of 20 and 100
companies with their owner and the total count, a list of companies with their projects, a
retrieve, a create, a partial update, and an ``@action`` returning a constant against a plain
route returning it.

Modes:

- ``--mode asgi`` (default): every app in this process, called as ``await app(scope, receive,
  send)`` with hand-built scopes, one request at a time (see :mod:`benchmarks.asgi`). This
  measures the per-request cost of the framework and ORM with nothing else in the way.
- ``--mode uvicorn``: every app in its own uvicorn process on ``127.0.0.1`` (a free port),
  driven by this suite's own keep-alive HTTP/1.1 load generator with ``--connections``
  concurrent connections (see :mod:`benchmarks.loadgen`, :mod:`benchmarks.server`). Servers are
  stopped at the end, also on errors and Ctrl-C.

Both modes interleave the apps: ``--rounds`` rounds, each giving every app one slice of
``--seconds / --rounds`` seconds on the workload, in rotating order, so the machine's noise falls
on all apps alike (see :mod:`benchmarks.runner`). Then each app serves a list of 1,000 rows in a
fresh subprocess whose peak RSS is recorded (see :mod:`benchmarks.memory`).

Output: per database, a table of requests/s and p50/p90/p99 latency per workload and app, each
with its ratio to the baseline (``x``, above 1 is faster), the per-round ratio range, the SQL
statements per request, and fastapi_viewsets' target with PASS/MISS (see
:mod:`benchmarks.report`). The exit status is 0 unless ``--check`` is given and a target is
missed. ``--json FILE`` also writes every figure, to compare runs.

Options::

    --mode {asgi,uvicorn}   how requests reach the apps (default asgi)
    --db URL                sqlite (a temporary file, the default), sqlite://:memory: (asgi mode
                            only), or postgres://...; may be repeated
    --all-dbs               SQLite and PostgreSQL ($BENCH_PG_URL or
                            postgres://postgres@127.0.0.1:5432/test); an unreachable
                            PostgreSQL is skipped with a message
    --quick                 ~30 s: 0.8 s per app and workload in 5 rounds, smaller memory run
    --seconds S             measured seconds per app and workload (default 3), split in rounds
    --rounds R              rounds (default 12: slices of 0.25 s)
    --connections N         concurrent connections in uvicorn mode (default 4)
    --workloads a,b         some workloads only: list20, list100, list_projects, retrieve,
                            create, patch, action
    --apps a,b              some apps only (hand, the baseline, is always included)
    --no-memory             skip the memory measurement
    --profile WORKLOAD      profile one workload instead (--profile-app, --profile-top,
                            --profiler {auto,cprofile,pyinstrument})
    --json FILE             write the results as JSON
    --check                 exit 1 when a target is missed (or a workload is blocked)
    --judge {rps,cpu}       what PASS/MISS compares: requests per second (default), or CPU
                            time per request, which other processes on the machine move less

The tables are all prefixed ``bench_``; on PostgreSQL they are dropped at the end.
"""

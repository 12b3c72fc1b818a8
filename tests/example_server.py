"""The example app as a uvicorn process of tests/test_example_browser.py serves it.

``example_project.app.create_app()`` on the database ``DATABASE_URL`` names, seeded with the
demo data, as ``python -m example_project`` serves it, but with password hashes of 1,000
PBKDF2 rounds instead of 600,000 (as tests/test_example_project.py and scripts/fuzz.py do):
seeding three demo users and logging in would otherwise cost seconds of CPU per run.
"""

from __future__ import annotations

from example_project import auth
from example_project.app import create_app

auth.PASSWORD_ITERATIONS = 1_000

app = create_app()

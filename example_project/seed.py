"""Demo data, written once into an empty database so the API has something to show.

=========  ==================  =====  ==============================================
user       password            admin  owns
=========  ==================  =====  ==============================================
alice      ``alice-password``  no     Acme (public), Alice Labs (private)
bob        ``bob-password``    no     Bobworks (public), Bob's Skunkworks (private)
carol      ``carol-password``  yes    nothing; as an admin she sees everything
=========  ==================  =====  ==============================================

Some of Acme's tasks are assigned to bob, so he can complete them without owning Acme::

    await seed_demo_data()      # does nothing when a user already exists
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from tortoise.transactions import in_transaction

from .auth import hash_password
from .models import Organisation, Project, Task, User

__all__ = ("DEMO_PASSWORDS", "seed_demo_data")

log = logging.getLogger(__name__)

DEMO_PASSWORDS: dict[str, str] = {
    "alice": "alice-password",
    "bob": "bob-password",
    "carol": "carol-password",
}


async def seed_demo_data() -> bool:
    """Write the demo rows if the database has no user yet; return whether it did."""
    if await User.exists():
        return False
    hashes = {
        name: await run_in_threadpool(hash_password, password)
        for name, password in DEMO_PASSWORDS.items()
    }
    # One transaction: a crash half-way must not leave a database that looks seeded.
    async with in_transaction():
        alice = await User.create(username="alice", password_hash=hashes["alice"])
        bob = await User.create(username="bob", password_hash=hashes["bob"])
        await User.create(username="carol", password_hash=hashes["carol"], is_admin=True)

        acme = await Organisation.create(name="Acme", owner=alice, is_public=True)
        labs = await Organisation.create(name="Alice Labs", owner=alice, is_public=False)
        bobworks = await Organisation.create(name="Bobworks", owner=bob, is_public=True)
        skunk = await Organisation.create(name="Bob's Skunkworks", owner=bob, is_public=False)

        website = await Project.create(name="Website", organisation=acme)
        mobile = await Project.create(name="Mobile app", organisation=acme)
        lab = await Project.create(name="Time machine", organisation=labs)
        roadmap = await Project.create(name="Roadmap", organisation=bobworks)
        stealth = await Project.create(name="Stealth", organisation=skunk)

        await Task.bulk_create(
            [
                Task(title="Pick a font", project=website, assignee=alice, done=True),
                Task(title="Write the landing page", project=website, assignee=bob),
                Task(title="Fix the login screen", project=mobile, assignee=bob),
                Task(title="Calibrate the flux capacitor", project=lab, assignee=alice),
                Task(title="Plan Q3", project=roadmap, assignee=bob),
                Task(title="Hire a designer", project=roadmap),
                Task(title="Build the prototype", project=stealth, assignee=bob),
            ]
        )
    log.info("seeded the demo data: users %s", ", ".join(DEMO_PASSWORDS))
    return True

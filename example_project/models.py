"""The example's Tortoise models, registered under the app label ``"models"``.

A user owns organisations; an organisation has projects; a project has tasks, each optionally
assigned to a user::

    alice = await User.create(username="alice", password_hash=hash_password("..."))
    acme = await Organisation.create(name="Acme", owner=alice, is_public=True)
    website = await Project.create(name="Website", organisation=acme)
    await Task.create(title="Pick a font", project=website, assignee=alice)

The tables are made by the migrations in :mod:`example_project.migrations`, written by
Tortoise's own command from these classes (see :mod:`example_project.db`). After changing a
model, write the next migration and commit it::

    tortoise -c example_project.db.TORTOISE_ORM makemigrations

Tables keep Tortoise's default names (``user``, ``organisation``, ...); the library's own test
models use ``t_``-prefixed tables, so both sets can live in one PostgreSQL database.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

__all__ = ("Organisation", "Project", "Task", "User")


class User(Model):
    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=50, unique=True)
    # "pbkdf2_sha256$<iterations>$<salt>$<hash>", see example_project.auth.hash_password.
    password_hash = fields.CharField(max_length=200)
    is_admin = fields.BooleanField(default=False)

    organisations: fields.ReverseRelation[Organisation]
    tasks: fields.ReverseRelation[Task]

    def __str__(self) -> str:
        return self.username


class Organisation(Model):
    id = fields.IntField(primary_key=True)
    # Unique per owner, not across the table: a name taken by someone else's private
    # organisation would otherwise be a 409 that tells a stranger the name exists.
    name = fields.CharField(max_length=100)
    owner: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="organisations", on_delete=fields.CASCADE
    )
    owner_id: int  # the column Tortoise adds for the foreign key, declared for type checkers
    # Public organisations (and their projects and tasks) are visible to everyone, anonymous
    # visitors included; private ones only to their owner and to admins.
    is_public = fields.BooleanField(default=True)

    projects: fields.ReverseRelation[Project]

    class Meta:
        unique_together = (("owner", "name"),)

    def __str__(self) -> str:
        return self.name


class Project(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)
    organisation: fields.ForeignKeyRelation[Organisation] = fields.ForeignKeyField(
        "models.Organisation", related_name="projects", on_delete=fields.CASCADE
    )
    organisation_id: int
    created_at = fields.DatetimeField(auto_now_add=True)

    tasks: fields.ReverseRelation[Task]

    def __str__(self) -> str:
        return self.name


class Task(Model):
    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=200)
    project: fields.ForeignKeyRelation[Project] = fields.ForeignKeyField(
        "models.Project", related_name="tasks", on_delete=fields.CASCADE
    )
    project_id: int
    done = fields.BooleanField(default=False)
    # Deleting a user unassigns their tasks rather than deleting work that others own.
    assignee: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="tasks", null=True, on_delete=fields.SET_NULL
    )
    assignee_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.title

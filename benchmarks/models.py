"""The Tortoise models the benchmark serves; every table is prefixed ``bench_``.

``BenchCompany`` rows (with a nested ``owner``) are what the list, retrieve and partial-update
workloads read and write; ``BenchProject`` is the reverse relation (``company.projects``);
``BenchTicket`` is where the create workload writes, so created rows never change the counts the
list workloads see (the driver deletes them between rounds).
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class BenchUser(Model):
    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=50, unique=True)
    email = fields.CharField(max_length=100)
    is_active = fields.BooleanField(default=True)

    class Meta:
        table = "bench_user"

    class PydanticMeta:
        # Tortoise's documented way to keep reverse relations out of generated schemas.
        exclude = ("companies", "tickets", "is_active")


class BenchCompany(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, unique=True)
    size = fields.IntField(default=0)
    is_public = fields.BooleanField(default=True)
    description = fields.TextField(null=True)
    owner: fields.ForeignKeyRelation[BenchUser] = fields.ForeignKeyField(
        "models.BenchUser", related_name="companies", on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    projects: fields.ReverseRelation[BenchProject]

    class Meta:
        table = "bench_company"


class BenchProject(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)
    budget = fields.IntField(default=0)
    company: fields.ForeignKeyRelation[BenchCompany] = fields.ForeignKeyField(
        "models.BenchCompany", related_name="projects", on_delete=fields.CASCADE
    )

    class Meta:
        table = "bench_project"


class BenchTicket(Model):
    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=200)
    priority = fields.IntField(default=0)
    owner: fields.ForeignKeyRelation[BenchUser] = fields.ForeignKeyField(
        "models.BenchUser", related_name="tickets", on_delete=fields.CASCADE
    )

    class Meta:
        table = "bench_ticket"

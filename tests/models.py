"""Models the test-suite serves. Tables are prefixed so they never meet the example project's."""

from __future__ import annotations

import uuid

from tortoise import fields
from tortoise.models import Model


class User(Model):
    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=50, unique=True)
    is_admin = fields.BooleanField(default=False)

    class Meta:
        table = "t_user"


class Company(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, unique=True)
    slug = fields.CharField(max_length=50, unique=True, null=True)
    is_public = fields.BooleanField(default=True)
    size = fields.IntField(default=0)
    description = fields.TextField(null=True)
    owner: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="companies", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    projects: fields.ReverseRelation[Project]
    invoices: fields.ReverseRelation[Invoice]

    class Meta:
        table = "t_company"


class Tag(Model):
    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    name = fields.CharField(max_length=50)

    class Meta:
        table = "t_tag"


class Project(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)
    company: fields.ForeignKeyRelation[Company] = fields.ForeignKeyField(
        "models.Company", related_name="projects", on_delete=fields.CASCADE
    )
    tags: fields.ManyToManyRelation[Tag] = fields.ManyToManyField(
        "models.Tag", related_name="projects", through="t_project_tag"
    )

    class Meta:
        table = "t_project"


class Invoice(Model):
    """Refers to a company with RESTRICT, so deleting a billed company is a conflict."""

    id = fields.IntField(primary_key=True)
    amount = fields.IntField()
    company: fields.ForeignKeyRelation[Company] = fields.ForeignKeyField(
        "models.Company", related_name="invoices", on_delete=fields.RESTRICT
    )

    class Meta:
        table = "t_invoice"

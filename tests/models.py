"""Models the test-suite serves. Tables are prefixed so they never meet the example project's."""

from __future__ import annotations

import enum
import re
import uuid

from tortoise import fields
from tortoise.models import Model
from tortoise.validators import RegexValidator


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


# --- listing tests (filters, search, ordering, pagination) -----------------------------------


class TicketStatus(str, enum.Enum):
    OPEN = "open"
    WAITING = "waiting"
    CLOSED = "closed"


class TicketPriority(enum.IntEnum):
    LOW = 1
    NORMAL = 2
    HIGH = 3


class Queue(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=50)
    is_public = fields.BooleanField(default=True)

    tickets: fields.ReverseRelation[Ticket]

    class Meta:
        table = "t_queue"


class Ticket(Model):
    """Every column type a filter parses, and ordering keys with many duplicates."""

    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=100)
    status = fields.CharEnumField(TicketStatus, default=TicketStatus.OPEN, max_length=10)
    priority = fields.IntEnumField(TicketPriority, default=TicketPriority.NORMAL)
    rank = fields.IntField(default=0)
    score = fields.FloatField(default=0)
    price = fields.DecimalField(max_digits=10, decimal_places=2, default=0)
    is_urgent = fields.BooleanField(default=False)
    due = fields.DateField(null=True)
    opened_at = fields.DatetimeField()
    ref = fields.UUIDField(default=uuid.uuid4)
    note = fields.TextField(null=True)
    queue: fields.ForeignKeyNullableRelation[Queue] = fields.ForeignKeyField(
        "models.Queue", related_name="tickets", null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "t_ticket"


# --- integrity tests (unique_together, a renamed column, one-to-one) -------------------------


class Membership(Model):
    """A pair that is unique together."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, on_delete=fields.CASCADE
    )
    company: fields.ForeignKeyRelation[Company] = fields.ForeignKeyField(
        "models.Company", related_name=False, on_delete=fields.CASCADE
    )
    role = fields.CharField(max_length=20, default="member")

    class Meta:
        table = "t_membership"
        unique_together = (("user", "company"),)


class Badge(Model):
    """A unique, validated field stored under another column name, a unique date, a one-to-one."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(
        max_length=20,
        unique=True,
        source_field="badge_code",
        validators=[RegexValidator(r"^[a-z]+$", re.IGNORECASE)],
    )
    issued = fields.DateField(null=True, unique=True)
    holder: fields.OneToOneNullableRelation[User] = fields.OneToOneField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "t_badge"


class AuditEntry(Model):
    """A row a hook writes beside the viewset's own; its note is unique."""

    id = fields.IntField(primary_key=True)
    note = fields.CharField(max_length=100, unique=True)

    class Meta:
        table = "t_audit_entry"


class Counter(Model):
    """A column whose default the database applies (``db_default``)."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=50)
    hits = fields.IntField(db_default=7)

    class Meta:
        table = "t_counter"


class Document(Model):
    """A JSON column, changed in place by hooks."""

    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=100)
    meta = fields.JSONField(default=dict)

    class Meta:
        table = "t_document"


class Sample(Model):
    """One column of every kind the fast read path must render like the plain one."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=50)
    note = fields.TextField(null=True)
    count = fields.IntField(default=0)
    big = fields.BigIntField(null=True)
    ratio = fields.FloatField(null=True)
    amount = fields.DecimalField(max_digits=12, decimal_places=4, null=True)
    flag = fields.BooleanField(default=False)
    day = fields.DateField(null=True)
    at = fields.DatetimeField()
    ref = fields.UUIDField(default=uuid.uuid4)
    status = fields.CharEnumField(TicketStatus, default=TicketStatus.OPEN, max_length=10)
    priority = fields.IntEnumField(TicketPriority, default=TicketPriority.NORMAL)
    payload = fields.JSONField(null=True)
    owner: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "t_sample"

"""Pydantic v2 schemas: what the API reads (request bodies) and answers with.

Read schemas nest the related objects a client wants in one response. The viewsets inspect them
when they are registered and load exactly those relations, so listing 100 projects with their
organisation is one query, not 101::

    class ProjectRead(BaseModel):
        model_config = ConfigDict(from_attributes=True)
        id: int
        name: str
        organisation: OrganisationSummary   # Project.organisation: select_related

    class OrganisationRead(BaseModel):
        ...
        projects: list[ProjectSummary]      # the reverse relation: prefetch_related

Write schemas name the model's columns, foreign keys as ``<name>_id``. They are strict: a body
is accepted only as its OpenAPI schema describes it, so ``"is_public": 0`` or
``"project_id": "3"`` is a 422 rather than quietly read as ``false`` or ``3``. Nothing here
exposes ``User.password_hash``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = (
    "LoginRequest",
    "OrganisationCreate",
    "OrganisationProjectCreate",
    "OrganisationRead",
    "OrganisationSummary",
    "ProjectCreate",
    "ProjectRead",
    "ProjectStats",
    "ProjectSummary",
    "SignupRequest",
    "TaskCreate",
    "TaskRead",
    "TokenResponse",
    "UserRead",
    "UserSummary",
)


class _FromORM(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class _Strict(BaseModel):
    """A request body: no coercion (pydantic's lax mode reads ``0`` as ``false``), so what is
    accepted is what OpenAPI documents."""

    model_config = ConfigDict(strict=True)


# --- users and authentication --------------------------------------------------------------


class UserSummary(_FromORM):
    id: int
    username: str


class UserRead(_FromORM):
    id: int
    username: str
    is_admin: bool


class SignupRequest(_Strict):
    username: str = Field(min_length=3, max_length=50, pattern=r"^[A-Za-z0-9_.-]+$")
    password: str = Field(min_length=8, max_length=200)


class LoginRequest(_Strict):
    username: str = Field(min_length=1, max_length=50)
    password: str = Field(min_length=1, max_length=200)


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"


# --- organisations -----------------------------------------------------------------------


class OrganisationSummary(_FromORM):
    id: int
    name: str
    is_public: bool


class ProjectSummary(_FromORM):
    id: int
    name: str
    created_at: datetime


class OrganisationRead(_FromORM):
    id: int
    name: str
    is_public: bool
    owner: UserSummary
    projects: list[ProjectSummary]


class OrganisationCreate(_Strict):
    """Also the PUT body; PATCH accepts any subset of it. The owner is the user who creates it."""

    name: str = Field(min_length=1, max_length=100)
    is_public: bool = True


# --- projects ----------------------------------------------------------------------------


class ProjectRead(_FromORM):
    id: int
    name: str
    created_at: datetime
    organisation: OrganisationSummary


class ProjectCreate(_Strict):
    name: str = Field(min_length=1, max_length=100)
    organisation_id: int


class OrganisationProjectCreate(_Strict):
    """A project created under ``/organisations/{organisation_id}/projects``: the path names
    the organisation."""

    name: str = Field(min_length=1, max_length=100)


class ProjectStats(BaseModel):
    """Counts over the projects the caller can see."""

    projects: int
    tasks: int
    done: int
    open: int


# --- tasks -------------------------------------------------------------------------------


class TaskRead(_FromORM):
    id: int
    title: str
    done: bool
    created_at: datetime
    project: ProjectSummary
    assignee: UserSummary | None


class TaskCreate(_Strict):
    title: str = Field(min_length=1, max_length=200)
    project_id: int
    done: bool = False
    assignee_id: int | None = None

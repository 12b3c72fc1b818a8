"""The API's viewsets: users, organisations, projects and tasks.

Who sees what: anonymous visitors see public organisations and their projects and tasks; a
signed-in user also sees their own private organisations; an admin sees everything. Rows outside
that scope do not exist for the caller (404), whatever the action.

Who may change what: reads are public; creating needs a user; changing or deleting an
organisation, a project or a task needs the organisation's owner (or an admin), and a user who can
see a row but does not own it gets 403. A task can also be completed by its assignee::

    GET    /organisations                 public + own (+ all for admins)
    POST   /organisations                 signed in; the caller becomes the owner
    PATCH  /organisations/{id}            the owner: 200; others who can see it: 403; else 404
    GET    /projects/stats                counts over the projects the caller can see
    GET    /organisations/{id}/projects   one organisation's projects (POST adds one)
    POST   /tasks/{id}/complete           the owner or the assignee; notifies the owner
    POST   /users                         sign up
    GET    /users/me                      the caller

Lists come in pages, filtered, searched and ordered by query parameters, as in DRF::

    GET /organisations?page=2&page_size=10        page numbers: {"count", "next", "previous",
    GET /organisations?search=acme&ordering=name   "results"}
    GET /projects?organisation_id=1&created_at__gte=2025-01-01T00:00:00Z
    GET /tasks?done=false&assignee_id=2            a cursor feed, newest first:
    GET /tasks?cursor=...                          {"next", "previous", "results"}
    GET /users?limit=10&offset=20&search=ali       limit and offset

Anonymous visitors may read 100 times a minute per address (``AnonymousReads``); signed-in users
are not counted. The counts are kept in memory, or in the Redis that ``FASTAPI_VIEWSETS_STORE``
names (``redis://127.0.0.1:6379/0``), which every worker then shares. Request bodies are at most
64 KiB (``MAX_BODY_SIZE``): a larger one is answered 413 before it is read.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, BackgroundTasks, Query
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from tortoise.expressions import Q, Subquery
from tortoise.models import Model
from tortoise.queryset import QuerySet

from fastapi_viewsets import (
    AllowAny,
    AnonRateThrottle,
    BasePermission,
    BaseStateManager,
    IsAuthenticated,
    ModelViewSet,
    NotFound,
    PermissionDenied,
    ReadOnlyModelViewSet,
    action,
    viewset,
)
from fastapi_viewsets.pagination import (
    CursorPagination,
    LimitOffsetPagination,
    PageNumberPagination,
)

from . import auth
from .models import Organisation, Project, Task, User
from .schemas import (
    OrganisationCreate,
    OrganisationProjectCreate,
    OrganisationRead,
    ProjectCreate,
    ProjectRead,
    ProjectStats,
    SignupRequest,
    TaskCreate,
    TaskRead,
    UserRead,
)

__all__ = (
    "MAX_BODY_SIZE",
    "AnonymousReads",
    "ExampleState",
    "Feed",
    "IsAssignee",
    "IsOrganisationOwner",
    "Pages",
    "Slices",
    "routers",
)

log = logging.getLogger(__name__)

M = TypeVar("M", bound=Model)

#: The range of an ``IntField``, such as the ids: a 32-bit signed integer.
INT_MIN, INT_MAX = -(2**31), 2**31 - 1


# --- request state -----------------------------------------------------------------------


class ExampleState(BaseStateManager[User]):
    """The request's state, with the shortcuts these viewsets need."""

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user is not None else None

    @property
    def is_admin(self) -> bool:
        return self.user is not None and self.user.is_admin

    def log_activity(self, event: str, **details: Any) -> None:
        """Record ``event`` for this request and log it (with the request id, see app.py)."""
        self.set("activities", [*self.get("activities", []), {"event": event, **details}])
        log.info("%s %s", event, " ".join(f"{k}={v!r}" for k, v in details.items()))


def visible_organisations(state: ExampleState) -> QuerySet[Organisation]:
    if state.is_admin:
        return Organisation.all()
    if state.user_id is None:
        return Organisation.filter(is_public=True)
    return Organisation.filter(Q(is_public=True) | Q(owner_id=state.user_id))


def visible_projects(state: ExampleState) -> QuerySet[Project]:
    # Built on visible_organisations, so the one visibility rule lives in one place for
    # organisations, projects, tasks and the stats alike.
    return Project.filter(organisation_id__in=Subquery(visible_organisations(state).values("id")))


# --- permissions -------------------------------------------------------------------------


async def organisation_owner_id(obj: Model) -> int | None:
    """The id of the user who owns the organisation ``obj`` belongs to."""
    if isinstance(obj, Organisation):
        return obj.owner_id
    if isinstance(obj, Project):
        owners = Organisation.filter(id=obj.organisation_id)
    elif isinstance(obj, Task):
        owners = Organisation.filter(projects__id=obj.project_id)
    else:
        return None
    return await owners.first().values_list("owner_id", flat=True)  # type: ignore[return-value]


class IsOrganisationOwner(BasePermission):
    """The user owns the organisation the object belongs to, or is an admin."""

    message = "Only the organisation's owner may change it."

    async def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        user = view.user
        if user is None:
            return False
        return bool(user.is_admin) or await organisation_owner_id(obj) == user.id


class IsAssignee(BasePermission):
    """The user is the task's assignee."""

    message = "Only the task's assignee or the organisation's owner may complete it."

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        return view.user is not None and obj.assignee_id == view.user.id


async def require_own_organisation(state: ExampleState, organisation_id: int) -> None:
    """Refuse to attach a row to an organisation the caller does not own."""
    if state.is_admin:
        return
    if not await Organisation.filter(id=organisation_id, owner_id=state.user_id).exists():
        raise PermissionDenied("You can only add to organisations you own.")


# --- throttles ---------------------------------------------------------------------------


class AnonymousReads(AnonRateThrottle):
    """Anonymous visitors: 100 requests a minute per client address. Their writes are refused
    401 before throttles run, so what this counts is their reads."""

    rate = "100/minute"


# --- pagination --------------------------------------------------------------------------


class Pages(PageNumberPagination):
    """``?page=2&page_size=50``: organisations and projects, with a count of the whole list."""

    page_size = 20
    max_page_size = 100


class Feed(CursorPagination):
    """Tasks as a feed, newest first: ``?cursor=`` pages stay right while tasks are added,
    and no page counts the table."""

    page_size = 20
    max_page_size = 100
    ordering = ("-created_at", "-id")


class Slices(LimitOffsetPagination):
    """``?limit=10&offset=20``: users."""

    default_limit = 20
    max_limit = 100


# --- viewsets ----------------------------------------------------------------------------

#: The most bytes a request body may have. The largest body these viewsets take, a task of 200
#: characters, is under 2 KB; 64 KiB leaves room for that to grow and turns away a client that
#: sends megabytes (413) before the server reads them.
MAX_BODY_SIZE = 64 * 1024


class OwnedViewSet(ModelViewSet[M]):
    """What organisations, projects and tasks share: public reads, owner-only writes,
    anonymous reads throttled.

    What every viewset does without a setting: reads answer an ``ETag`` (``If-None-Match``
    gets 304), writes honour ``If-Match`` (412 when someone wrote in between), and a create
    sent with an ``Idempotency-Key`` runs once however often the client retries it.
    """

    state_class = ExampleState
    state: ExampleState
    throttle_classes = [AnonymousReads]
    max_body_size = MAX_BODY_SIZE

    def get_permissions(self) -> Sequence[BasePermission]:
        if self.action in ("list", "retrieve", "stats"):
            return [AllowAny()]
        if self.action == "create":
            # Whether the body names an organisation the caller owns is known only after it is
            # validated: perform_create checks it.
            return [IsAuthenticated()]
        return [IsAuthenticated(), IsOrganisationOwner()]


organisations = APIRouter(prefix="/organisations", tags=["organisations"])
organisation_projects = APIRouter(
    prefix="/organisations/{organisation_id}/projects", tags=["projects"]
)
projects = APIRouter(prefix="/projects", tags=["projects"])
tasks = APIRouter(prefix="/tasks", tags=["tasks"])
users = APIRouter(prefix="/users", tags=["users"])


@viewset(organisations)
class OrganisationViewSet(OwnedViewSet[Organisation]):
    model = Organisation
    read_schema = OrganisationRead
    create_schema = OrganisationCreate
    pagination_class = Pages
    filterset_fields = ["is_public"]
    search_fields = ["name"]
    ordering_fields = ["name", "id"]
    ordering = ["id"]

    def get_queryset(self) -> QuerySet[Organisation]:
        return visible_organisations(self.state)

    async def perform_create(self, obj: Organisation) -> Organisation:
        assert self.state.user_id is not None  # IsAuthenticated ran before the body was read
        obj.owner_id = self.state.user_id
        created = await super().perform_create(obj)
        # After the write: a create refused with a 409 (a taken name) is not logged as made.
        self.state.log_activity("organisation_created", name=obj.name)
        return created


class ProjectLists(OwnedViewSet[Project]):
    """What both project routes share: the rows the caller can see, their pages and filters."""

    model = Project
    read_schema = ProjectRead
    # perform_create refuses an organisation the caller does not own: OpenAPI cannot see that.
    extra_responses = {"create": {403: {"description": "Not an organisation you own"}}}
    pagination_class = Pages
    search_fields = ["name"]
    ordering_fields = ["name", "created_at"]
    ordering = ["id"]

    def get_queryset(self) -> QuerySet[Project]:
        return visible_projects(self.state)


@viewset(organisation_projects)
class OrganisationProjectViewSet(ProjectLists):
    """One organisation's projects: ``/organisations/{organisation_id}/projects[/{id}]``.

    An organisation the caller cannot see is a 404 for every action, its create included, as
    if it did not exist; adding a project needs its owner (403 for anyone else who can see it).
    """

    create_schema = OrganisationProjectCreate
    extra_responses = {
        "create": {
            403: {"description": "Not an organisation you own"},
            404: {"description": "No organisation you can see has this id"},
        }
    }
    # The path's organisation_id names Project.organisation: lists and lookups are the
    # organisation's rows, and a create is attached to it.
    parent_lookup_kwargs = {"organisation_id": "organisation"}

    async def initial(self) -> None:
        await super().initial()  # permissions and throttles first
        organisation_id = self.kwargs["organisation_id"]
        if not await visible_organisations(self.state).filter(id=organisation_id).exists():
            raise NotFound("Organisation not found.")

    async def perform_create(self, obj: Project) -> Project:
        await require_own_organisation(self.state, obj.organisation_id)
        created = await super().perform_create(obj)
        self.state.log_activity("project_created", name=obj.name)
        return created


@viewset(projects)
class ProjectViewSet(ProjectLists):
    create_schema = ProjectCreate
    filterset_fields = {"organisation_id": ["exact"], "created_at": ["gte", "lt"]}

    async def perform_create(self, obj: Project) -> Project:
        await require_own_organisation(self.state, obj.organisation_id)
        created = await super().perform_create(obj)
        self.state.log_activity("project_created", name=obj.name)
        return created

    async def perform_update(self, obj: Project) -> Project:
        # IsOrganisationOwner vouched for the old organisation; a move needs the new one too.
        await require_own_organisation(self.state, obj.organisation_id)
        return await super().perform_update(obj)

    @action(detail=False)
    async def stats(
        self,
        organisation_id: Annotated[
            # The bounds of the id column (an IntField): a larger number would reach
            # PostgreSQL, which refuses it (a 500), rather than be a 422 here.
            int | None,
            Query(ge=INT_MIN, le=INT_MAX, description="Only this organisation's projects."),
        ] = None,
    ) -> ProjectStats:
        """Project and task counts over the projects you can see, or one organisation's."""
        visible = self.get_queryset()
        if organisation_id is not None:
            visible = visible.filter(organisation_id=organisation_id)
        tasks = Task.filter(project_id__in=Subquery(visible.values("id")))
        total = await tasks.count()
        done = await tasks.filter(done=True).count()
        return ProjectStats(
            projects=await visible.count(), tasks=total, done=done, open=total - done
        )


async def notify_owner(task_id: int) -> None:
    """Tell the organisation's owner a task was completed; runs after the response is sent."""
    # The request's state stays open for background tasks: same user, same request id in logs.
    state = ExampleState.get_state()
    task = await Task.get(id=task_id).select_related("project__organisation__owner")
    owner = task.project.organisation.owner
    log.info("notified %s: %r was completed by %s", owner.username, task.title, state.user)


@viewset(tasks)
class TaskViewSet(OwnedViewSet[Task]):
    model = Task
    read_schema = TaskRead
    create_schema = TaskCreate
    extra_responses = {"create": {403: {"description": "Not a project of yours"}}}
    pagination_class = Feed  # ordered as Feed says unless ?ordering= asks otherwise
    filterset_fields = ["done", "project_id", "assignee_id"]
    search_fields = ["title"]
    ordering_fields = ["created_at", "title"]

    def get_queryset(self) -> QuerySet[Task]:
        return Task.filter(project_id__in=Subquery(visible_projects(self.state).values("id")))

    def get_permissions(self) -> Sequence[BasePermission]:
        if self.action == "complete":
            return [IsAuthenticated(), IsOrganisationOwner() | IsAssignee()]
        return super().get_permissions()

    async def _require_own_project(self, project_id: int) -> None:
        project = await Project.get_or_none(id=project_id)
        if project is None:
            raise PermissionDenied("You can only add to organisations you own.")
        await require_own_organisation(self.state, project.organisation_id)

    async def perform_create(self, obj: Task) -> Task:
        await self._require_own_project(obj.project_id)
        return await super().perform_create(obj)

    async def perform_update(self, obj: Task) -> Task:
        await self._require_own_project(obj.project_id)
        return await super().perform_update(obj)

    # Completing is idempotent by nature (a second call changes nothing and notifies no one),
    # so this POST needs no Idempotency-Key: the header is ignored here.
    @action(methods=["POST"], detail=True, idempotency_keys=False)
    async def complete(self, background_tasks: BackgroundTasks) -> TaskRead:
        """Mark the task done; the organisation's owner is notified after the response."""
        task = await self.get_object()  # 404 outside your scope, 403 if not yours to complete
        if not task.done:  # completing twice is harmless and notifies once
            task.done = True
            await task.save(update_fields=["done"])
            self.state.log_activity("task_completed", id=task.id)
            background_tasks.add_task(notify_owner, task.id)
        return TaskRead.model_validate(task)


@viewset(users)
class UserViewSet(ReadOnlyModelViewSet[User]):
    """Signed-in users can look each other up; anyone can sign up."""

    model = User
    read_schema = UserRead
    state_class = ExampleState
    state: ExampleState
    max_body_size = MAX_BODY_SIZE

    pagination_class = Slices
    search_fields = ["username"]
    ordering = ["id"]

    def get_permissions(self) -> Sequence[BasePermission]:
        if self.action == "signup":
            return [AllowAny()]
        return [IsAuthenticated()]

    @action(detail=False)
    async def me(self) -> UserRead:
        """The user the bearer token belongs to."""
        return UserRead.model_validate(self.user)

    # POST /users itself. Not create_schema: the body's "password" is not a column (the model
    # stores password_hash), and a write schema may only name columns.
    @action(methods=["POST"], detail=False, url_path="", status_code=201)
    async def signup(self, data: SignupRequest) -> UserRead:
        """Create an account; log in with POST /auth/token afterwards."""
        password_hash = await run_in_threadpool(auth.hash_password, data.password)
        # atomic() turns a taken username into a 409 that names the field.
        async with self.atomic({"username": data.username}):
            user = await User.create(username=data.username, password_hash=password_hash)
        self.state.log_activity("user_signed_up", username=user.username)
        return UserRead.model_validate(user)


routers = (organisations, organisation_projects, projects, tasks, users)

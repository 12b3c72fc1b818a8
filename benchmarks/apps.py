"""The three applications the benchmark compares, serving the same routes on the same data.

=========  ================================================================================
``hand``   (a) a careful hand-written FastAPI app: ``select_related`` for the owner,
           ``prefetch_related`` for projects, one ``COUNT``, plain Pydantic models with
           ``from_attributes`` as ``response_model``. Writes are the leanest correct code: one
           ``INSERT`` (atomic by itself) then one query for the owner; a PATCH is one
           ``UPDATE ... WHERE id`` then one ``SELECT ... JOIN``. It is the baseline of every ratio.
``idiom``  (b) Tortoise's documented idiom: schemas from ``pydantic_model_creator``, reads with
           ``from_queryset`` / ``from_queryset_single`` (which ``prefetch_related`` every
           relation of the schema), writes as in Tortoise's FastAPI example
           (``Model.create`` + ``from_tortoise_orm``; ``filter().update()`` +
           ``from_queryset_single``).
``ours``   (c) fastapi_viewsets: ``ModelViewSet`` with ``PageNumberPagination``, read schemas with
           a nested owner / a list of projects, and an ``@action`` returning a constant.
=========  ================================================================================

Two more builds of (c) measure throttling against ``ours`` (they are timed only by the
``throttle_*`` workloads): ``throttled`` counts every request to ``/companies`` with a
``UserRateThrottle`` in the memory store, ``throttled_redis`` in the Redis of
``BENCH_REDIS_URL`` (``redis://127.0.0.1:6379/0``). The rate, 10,000 a second, is never reached,
so every request is counted and answered; a moving window then holds up to a second's requests,
as a realistic rate holds its own window's.

Every app answers the same paths (so one request is sent unchanged to each):

=====================================  ===============================================
``GET /companies?page_size=N``         ``{"count", "next", "previous", "results"}``,
                                       companies ordered by id, each with its owner
``GET /companies-with-projects?...``   the same envelope, each company with its projects
``GET /companies/{id}``                one company with its owner
``PATCH /companies/{id}``              ``{"size": ...}``, answers the company with its owner
``POST /tickets``                      ``{"title", "priority", "owner_id"}``, answers 201 and
                                       the ticket with its owner
``GET /companies/ping``                ``{"status": "ok"}``: a plain route in ``hand``, an
                                       ``@action`` in ``ours``, absent from ``idiom``
=====================================  ===============================================

Build the apps only after Tortoise knows the models (``Tortoise.init`` or
``Tortoise.init_models(["benchmarks.models"], "models")``): ``pydantic_model_creator`` needs the
relations. The apps do not open the database themselves; pass ``lifespan=`` for that (the uvicorn
server process does, with ``RegisterTortoise``).
"""

import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, create_model
from tortoise.contrib.pydantic import pydantic_model_creator
from tortoise.exceptions import DoesNotExist, IntegrityError

from fastapi_viewsets import ModelViewSet, ReadOnlyModelViewSet, action, viewset
from fastapi_viewsets.pagination import PageNumberPagination
from fastapi_viewsets.store import Store
from fastapi_viewsets.throttling import BaseThrottle, UserRateThrottle

from .models import BenchCompany, BenchTicket

__all__ = ("APP_LABELS", "APP_NAMES", "build_app")

#: The apps in the order they are listed; ``hand`` is the baseline.
APP_NAMES: tuple[str, ...] = (
    "hand",
    "idiom",
    "ours",
    "throttled",
    "pinged",
    "throttled_redis",
    "keyed",
)
APP_LABELS: dict[str, str] = {
    "hand": "(a) hand-written, careful",
    "idiom": "(b) Tortoise idiom (from_queryset)",
    "ours": "(c) fastapi_viewsets",
    "throttled": "(c) throttled, memory store",
    "pinged": "(c) + one Redis PING per request",
    "throttled_redis": "(c) throttled, Redis store",
    "keyed": "(c) with an Idempotency-Key",
}
#: The apps that only the throttle_* workloads time.
THROTTLED_APPS = ("throttled", "pinged", "throttled_redis")
#: The apps that only one workload times: ``keyed`` is ``ours``, sent idempotency keys.
OWN_APPS = (*THROTTLED_APPS, "keyed")
BENCH_REDIS_URL = os.environ.get("BENCH_REDIS_URL") or "redis://127.0.0.1:6379/0"
#: Largest page any app serves (the memory measurement lists 1,000 rows).
MAX_PAGE_SIZE = 1000

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[Any]]


# --- schemas shared by (a) and (c) -----------------------------------------------------------


class OwnerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    email: str


class CompanyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    size: int
    is_public: bool
    description: str | None
    created_at: datetime
    owner: OwnerRead


class ProjectRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    budget: int


class CompanyWithProjects(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    projects: list[ProjectRead]


class CompanyWrite(BaseModel):
    name: str = Field(max_length=100)
    size: int = 0
    is_public: bool = True
    description: str | None = None


class CompanyPatch(BaseModel):
    name: str | None = Field(default=None, max_length=100)
    size: int | None = None
    is_public: bool | None = None
    description: str | None = None


class TicketCreate(BaseModel):
    title: str = Field(max_length=200)
    priority: int = 0
    owner_id: int


class TicketRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    priority: int
    owner: OwnerRead


class Status(BaseModel):
    status: str


def _page_model(name: str, item: Any) -> type[BaseModel]:
    return create_model(
        name,
        count=(int, ...),
        next=(str | None, ...),
        previous=(str | None, ...),
        results=(list[item], ...),
    )


CompanyPage = _page_model("HandCompanyPage", CompanyRead)
CompanyProjectsPage = _page_model("HandCompanyProjectsPage", CompanyWithProjects)

PageArg = Annotated[int, Query(ge=1)]
PageSizeArg = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
CONSTANT = {"status": "ok"}


def _links(request: Request, page: int, count: int, size: int) -> tuple[str | None, str | None]:
    """``next`` and ``previous`` as DRF (and fastapi_viewsets) build them; 404 past the end."""
    last = max(1, -(-count // size))
    if page > last:
        raise HTTPException(404, "Invalid page.")
    url = request.url
    next_url = str(url.include_query_params(page=page + 1)) if page < last else None
    previous = None
    if page == 2:
        previous = str(url.remove_query_params("page"))
    elif page > 2:
        previous = str(url.include_query_params(page=page - 1))
    return next_url, previous


# --- (a) careful hand-written ---------------------------------------------------------------


def _hand_router() -> APIRouter:
    router = APIRouter()

    @router.get("/companies/ping", response_model=Status)
    async def ping() -> dict[str, str]:
        return CONSTANT

    @router.get("/companies", response_model=CompanyPage)
    async def list_companies(
        request: Request, page: PageArg = 1, page_size: PageSizeArg = 20
    ) -> Any:
        queryset = BenchCompany.all().order_by("id")
        count = await queryset.count()
        next_url, previous = _links(request, page, count, page_size)
        rows = (
            await queryset.offset((page - 1) * page_size).limit(page_size).select_related("owner")
        )
        return CompanyPage(
            count=count,
            next=next_url,
            previous=previous,
            results=[CompanyRead.model_validate(row) for row in rows],
        )

    @router.get("/companies-with-projects", response_model=CompanyProjectsPage)
    async def list_with_projects(
        request: Request, page: PageArg = 1, page_size: PageSizeArg = 20
    ) -> Any:
        queryset = BenchCompany.all().order_by("id")
        count = await queryset.count()
        next_url, previous = _links(request, page, count, page_size)
        rows = (
            await queryset.offset((page - 1) * page_size)
            .limit(page_size)
            .prefetch_related("projects")
        )
        return CompanyProjectsPage(
            count=count,
            next=next_url,
            previous=previous,
            results=[CompanyWithProjects.model_validate(row) for row in rows],
        )

    @router.get("/companies/{company_id}", response_model=CompanyRead)
    async def retrieve_company(company_id: int) -> Any:
        company = await BenchCompany.get_or_none(id=company_id).select_related("owner")
        if company is None:
            raise HTTPException(404, "Not found.")
        return CompanyRead.model_validate(company)

    @router.patch("/companies/{company_id}", response_model=CompanyRead)
    async def patch_company(company_id: int, data: CompanyPatch) -> Any:
        values = data.model_dump(exclude_unset=True)
        try:
            if values and not await BenchCompany.filter(id=company_id).update(**values):
                raise HTTPException(404, "Not found.")
        except IntegrityError:
            raise HTTPException(409, "Conflict.") from None
        company = await BenchCompany.get_or_none(id=company_id).select_related("owner")
        if company is None:
            raise HTTPException(404, "Not found.")
        return CompanyRead.model_validate(company)

    @router.post("/tickets", response_model=TicketRead, status_code=201)
    async def create_ticket(data: TicketCreate) -> Any:
        try:
            ticket = await BenchTicket.create(**data.model_dump())
        except IntegrityError:
            raise HTTPException(409, "Conflict.") from None
        await ticket.fetch_related("owner")
        return TicketRead.model_validate(ticket)

    return router


# --- (b) Tortoise's documented idiom ----------------------------------------------------------


def _idiom_router() -> APIRouter:
    company_pyd = pydantic_model_creator(BenchCompany, name="IdiomCompany", exclude=("projects",))
    company_projects_pyd = pydantic_model_creator(
        BenchCompany,
        name="IdiomCompanyWithProjects",
        include=("id", "name", "projects"),
        exclude=("projects__company",),
    )
    company_patch_pyd = pydantic_model_creator(
        BenchCompany,
        name="IdiomCompanyPatch",
        exclude_readonly=True,
        exclude=("owner_id",),
        optional=("name", "size", "is_public", "description"),
    )
    ticket_pyd = pydantic_model_creator(BenchTicket, name="IdiomTicket")
    ticket_in_pyd = pydantic_model_creator(BenchTicket, name="IdiomTicketIn", exclude_readonly=True)
    page_pyd = _page_model("IdiomCompanyPage", company_pyd)
    page_projects_pyd = _page_model("IdiomCompanyProjectsPage", company_projects_pyd)

    router = APIRouter()

    @router.get("/companies", response_model=page_pyd)
    async def list_companies(
        request: Request, page: PageArg = 1, page_size: PageSizeArg = 20
    ) -> Any:
        queryset = BenchCompany.all().order_by("id")
        count = await queryset.count()
        next_url, previous = _links(request, page, count, page_size)
        results = await company_pyd.from_queryset(
            queryset.offset((page - 1) * page_size).limit(page_size)
        )
        return page_pyd(count=count, next=next_url, previous=previous, results=results)

    @router.get("/companies-with-projects", response_model=page_projects_pyd)
    async def list_with_projects(
        request: Request, page: PageArg = 1, page_size: PageSizeArg = 20
    ) -> Any:
        queryset = BenchCompany.all().order_by("id")
        count = await queryset.count()
        next_url, previous = _links(request, page, count, page_size)
        results = await company_projects_pyd.from_queryset(
            queryset.offset((page - 1) * page_size).limit(page_size)
        )
        return page_projects_pyd(count=count, next=next_url, previous=previous, results=results)

    @router.get("/companies/{company_id}", response_model=company_pyd)
    async def retrieve_company(company_id: int) -> Any:
        return await company_pyd.from_queryset_single(BenchCompany.get(id=company_id))

    @router.patch("/companies/{company_id}", response_model=company_pyd)
    async def patch_company(company_id: int, data: company_patch_pyd) -> Any:  # type: ignore[valid-type]
        await BenchCompany.filter(id=company_id).update(
            **data.model_dump(exclude_unset=True)  # type: ignore[attr-defined]
        )
        return await company_pyd.from_queryset_single(BenchCompany.get(id=company_id))

    @router.post("/tickets", response_model=ticket_pyd, status_code=201)
    async def create_ticket(data: ticket_in_pyd) -> Any:  # type: ignore[valid-type]
        ticket = await BenchTicket.create(**data.model_dump(exclude_unset=True))  # type: ignore[attr-defined]
        return await ticket_pyd.from_tortoise_orm(ticket)

    return router


async def _does_not_exist(request: Request, exc: Exception) -> JSONResponse:
    # What ``RegisterTortoise(add_exception_handlers=True)`` installs.
    return JSONResponse({"detail": str(exc)}, status_code=404)


# --- (c) fastapi_viewsets ----------------------------------------------------------------------


class BenchPagination(PageNumberPagination):
    page_size = 20
    max_page_size = MAX_PAGE_SIZE


class BenchThrottle(UserRateThrottle):
    rate = "10000/second"
    scope = "bench"
    # A store that is down must not pass for a fast one: answer 503, which the check reports.
    on_store_error = "refuse"


def bench_throttle(store_url: str) -> type[BaseThrottle]:
    """``BenchThrottle`` counting in the store ``store_url``, under a prefix of this process."""
    store = Store(store_url, prefix=f"fastapi_viewsets_bench_{os.getpid()}")
    return type("BenchThrottle", (BenchThrottle,), {"store": store})


_redis_clients: dict[Any, Any] = {}


async def _ping_redis() -> None:
    """One round trip to Redis: what the ``throttle_redis`` target allows a throttle."""
    import asyncio

    import redis.asyncio

    loop = asyncio.get_running_loop()
    client = _redis_clients.get(loop)
    if client is None:
        client = _redis_clients[loop] = redis.asyncio.Redis.from_url(BENCH_REDIS_URL)
    await client.ping()


def _ours_routers(throttle: type[BaseThrottle] | None = None) -> list[APIRouter]:
    companies = APIRouter(prefix="/companies")
    with_projects = APIRouter(prefix="/companies-with-projects")
    tickets = APIRouter(prefix="/tickets")

    @viewset(companies)
    class CompanyViewSet(ModelViewSet[BenchCompany]):
        model = BenchCompany
        read_schema = CompanyRead
        create_schema = CompanyWrite
        pagination_class = BenchPagination
        ordering = ("id",)
        throttle_classes = (throttle,) if throttle is not None else ()

        @action(methods=["GET"], detail=False)
        async def ping(self) -> Status:
            return CONSTANT  # type: ignore[return-value]

    @viewset(with_projects, basename="companywithprojects")
    class CompanyProjectsViewSet(ReadOnlyModelViewSet[BenchCompany]):
        model = BenchCompany
        read_schema = CompanyWithProjects
        pagination_class = BenchPagination
        ordering = ("id",)

    @viewset(tickets)
    class TicketViewSet(ModelViewSet[BenchTicket]):
        model = BenchTicket
        read_schema = TicketRead
        create_schema = TicketCreate

    return [companies, with_projects, tickets]


# --- assembling ----------------------------------------------------------------------------


@asynccontextmanager
async def _no_database(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    # In-process, Tortoise is opened once by the driver for all three apps.
    yield {"bench_app": app.title}


def build_app(name: str, lifespan: Lifespan | None = None) -> FastAPI:
    """A fresh FastAPI app ``name`` (``hand``, ``idiom`` or ``ours``)."""
    app = FastAPI(title=name, lifespan=lifespan or _no_database)
    if name == "hand":
        app.include_router(_hand_router())
    elif name == "idiom":
        app.include_router(_idiom_router())
        app.add_exception_handler(DoesNotExist, _does_not_exist)
    elif name in ("ours", *OWN_APPS):
        throttle = None
        if name in ("throttled", "throttled_redis"):
            throttle = bench_throttle("memory://" if name == "throttled" else BENCH_REDIS_URL)
        for router in _ours_routers(throttle):
            app.include_router(
                router, dependencies=[Depends(_ping_redis)] if name == "pinged" else ()
            )
    else:
        raise ValueError(f"unknown app {name!r}; choose from {', '.join(APP_NAMES)}")
    return app

"""``RequestStateMiddleware``: the state in your own middleware and on plain routes."""

import time

from fastapi import APIRouter, Depends, FastAPI, Request

from docs.examples.state_basic import Company, get_current_user
from fastapi_viewsets import ReadOnlyModelViewSet, RequestStateMiddleware, viewset
from fastapi_viewsets.state import BaseStateManager

app = FastAPI(dependencies=[Depends(get_current_user)])


@app.middleware("http")
async def timing(request: Request, call_next):
    state = BaseStateManager.get_state()  # open: RequestStateMiddleware is outside this one
    state.set("request_start_time", time.perf_counter())
    response = await call_next(request)
    elapsed = time.perf_counter() - state.get("request_start_time")
    response.headers["Server-Timing"] = f"app;dur={elapsed * 1000:.1f}"
    return response


@app.get("/me")
async def me():  # a plain route: its dependency's set_user needs the middleware
    state = BaseStateManager.get_state()
    return {"user": state.user, "request_id": state.request_id}


router = APIRouter(prefix="/companies", tags=["companies"])


@viewset(router)
class CompanyViewSet(ReadOnlyModelViewSet[Company]):
    model = Company


app.include_router(router)

# Added last, so it is the outermost middleware: every other middleware sees the state.
app.add_middleware(RequestStateMiddleware)

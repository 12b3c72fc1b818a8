"""An endpoint sets the request's API credits; an ``@app.middleware("http")`` reads them.

``request.state`` and the state's custom data are one dict, so a viewset can write with
``self.state.set(...)`` and a plain route with ``request.state.x = ...``: the middleware reads
both after ``call_next``.
"""

import logging

from fastapi import APIRouter, FastAPI, Request

from docs.examples.state_basic import Company
from fastapi_viewsets import GenericViewSet, action, viewset

logger = logging.getLogger(__name__)

#: What the middleware deducted, in order (a stand-in for ``user.deduct_credits(...)``).
DEDUCTED: list[int | None] = []

app = FastAPI()


@app.middleware("http")
async def api_credit_middleware(request: Request, call_next):
    # 1. Initialise request.state.api_credits, so endpoints that set nothing read None
    request.state.api_credits = None

    # 2. Pass the request on to the endpoint
    response = await call_next(request)

    # 3. Read what the endpoint set
    credits_to_deduct = request.state.api_credits
    if credits_to_deduct is not None:
        logger.info("deducting %s API credits", credits_to_deduct)
    DEDUCTED.append(credits_to_deduct)
    return response


@app.get("/myendpoint1")
async def my_endpoint_one(request: Request):
    api_credit_value = 5
    request.state.api_credits = api_credit_value
    return {"message": "Endpoint 1 processed", "api_credits_set": api_credit_value}


@app.post("/myendpoint2")
async def my_endpoint_two(request: Request):
    api_credit_value = 10
    request.state.api_credits = api_credit_value
    return {"message": "Endpoint 2 processed", "api_credits_set": api_credit_value}


@app.get("/no_credits_endpoint")
async def no_credits_endpoint(request: Request):
    return {"message": "This endpoint does not require API credits."}


router = APIRouter(prefix="/companies", tags=["companies"])


@viewset(router)
class CompanyViewSet(GenericViewSet[Company]):
    model = Company

    @action(detail=False)
    async def report(self) -> dict:
        self.state.set("api_credits", 3)  # the same as self.request.state.api_credits = 3
        return {"count": await self.get_queryset().count()}


app.include_router(router)

"""The request id and the user's id on every log record made during a request."""

import logging

from fastapi import APIRouter, Depends, FastAPI

from docs.examples.state_basic import Company, get_current_user
from fastapi_viewsets import GenericViewSet, RequestIdLogFilter, action, viewset

handler = logging.StreamHandler()
handler.addFilter(RequestIdLogFilter())
handler.setFormatter(logging.Formatter("%(request_id)s %(user_id)s %(levelname)s %(message)s"))

logger = logging.getLogger("myapp")
logger.addHandler(handler)
logger.setLevel(logging.INFO)

router = APIRouter(prefix="/companies", tags=["companies"])


@viewset(router)
class CompanyViewSet(GenericViewSet[Company]):
    model = Company

    @action(detail=False)
    async def stats(self) -> dict:
        count = await self.get_queryset().count()
        logger.info("counted %s companies", count)  # "<request id> 1 INFO counted 3 companies"
        return {"count": count}


app = FastAPI(dependencies=[Depends(get_current_user)])
app.include_router(router)

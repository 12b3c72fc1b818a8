"""Where counts live: Redis for many processes, and what a throttle does when it is down."""

from __future__ import annotations

import os

from fastapi import APIRouter

from docs.examples.permissions_app import Company, CompanyCreate, CompanyRead
from fastapi_viewsets import ModelViewSet, UserRateThrottle, configure_store, viewset

# Every worker on every host that names the same Redis shares the counts. Without this call,
# FASTAPI_VIEWSETS_STORE names the store, and without that, counts stay in this process.
if "REDIS_URL" in os.environ:
    configure_store(os.environ["REDIS_URL"])


class StrictRate(UserRateThrottle):
    scope = "strict"
    rate = "100/hour"
    # Redis down: answer 503 with Retry-After rather than let requests through uncounted.
    on_store_error = "refuse"


class LargeRate(UserRateThrottle):
    scope = "large"
    rate = "100000/day"
    # A weighted estimate over two counters: constant work and memory per client, where the
    # moving window keeps one entry per request of the window.
    strategy = "sliding-window-counter"


router = APIRouter(prefix="/companies", tags=["companies"])


@viewset(router)
class CompanyViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyCreate
    throttle_classes = [StrictRate, LargeRate]

"""Throttles on a viewset: anonymous clients by address, users by id."""

from __future__ import annotations

from fastapi import APIRouter

from docs.examples.permissions_app import Company, CompanyCreate, CompanyRead
from fastapi_viewsets import AnonRateThrottle, ModelViewSet, UserRateThrottle, viewset


class BurstRate(UserRateThrottle):
    scope = "burst"  # names the counts and the RateLimit policy
    rate = "60/minute"


class SustainedRate(UserRateThrottle):
    scope = "sustained"
    rate = "1000/day"


router = APIRouter(prefix="/companies", tags=["companies"])


@viewset(router)
class CompanyViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyCreate
    # Every throttle must allow: 60 a minute and 1000 a day per user, and an anonymous
    # client (by address) 10 a minute. An instance is a template, copied for each request.
    throttle_classes = [BurstRate, SustainedRate, AnonRateThrottle("10/minute")]

"""Safe retries: a viewset that requires Idempotency-Key, and a client that retries with it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from fastapi import APIRouter

from docs.examples.permissions_app import Company, CompanyCreate, CompanyRead
from fastapi_viewsets import ModelViewSet, viewset

router = APIRouter(prefix="/companies", tags=["companies"])


@viewset(router)
class CompanyViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyRead
    create_schema = CompanyCreate
    # A create without Idempotency-Key is refused (400): every client can retry safely.
    require_idempotency_key = True
    idempotency_key_ttl = 60 * 60  # a retry within the hour gets the first answer


async def create_once(
    http: httpx.AsyncClient, url: str, body: dict[str, Any], attempts: int = 5
) -> httpx.Response:
    """POST ``body``, retrying lost answers and busy keys: the server creates it once."""
    key = str(uuid.uuid4())  # one key for this create, sent with every attempt
    for attempt in range(attempts):
        try:
            answer = await http.post(url, json=body, headers={"Idempotency-Key": key})
        except httpx.TransportError:  # the answer was lost: did it run? The retry will say.
            await asyncio.sleep(0.1 * 2**attempt)
            continue
        if answer.status_code not in (409, 503):  # 409: still running; 503: try later
            return answer
        await asyncio.sleep(float(answer.headers.get("Retry-After", "1")))
    raise RuntimeError(f"{url}: no answer after {attempts} attempts")

"""Tests that drive an app over HTTP, in-process: httpx, asgi-lifespan and the app's lifespan."""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from tortoise.contrib.test import truncate_all_models

from docs.examples.quickstart import Owner, create_app  # your app factory

DB_URL = os.environ.get("TORTOISE_TEST_DB") or "sqlite://:memory:"


@asynccontextmanager
async def client_for(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # LifespanManager runs the lifespan, so RegisterTortoise opens and closes the database.
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            await truncate_all_models()  # on PostgreSQL, rows outlive an app
            yield client


async def test_create_then_retrieve() -> None:
    async with client_for(create_app(DB_URL)) as client:
        owner = await Owner.create(name="Ada")  # the ORM is usable inside the block
        created = await client.post("/companies", json={"name": "Acme", "owner_id": owner.id})
        assert created.status_code == 201
        company = created.json()
        assert company["owner"] == {"id": owner.id, "name": "Ada"}

        response = await client.get(f"/companies/{company['id']}")
        assert response.status_code == 200
        assert response.json() == company


async def test_unknown_company_is_a_404() -> None:
    async with client_for(create_app(DB_URL)) as client:
        response = await client.get("/companies/12345")
        assert response.status_code == 404
        assert response.json() == {"detail": "No company matches the given query."}

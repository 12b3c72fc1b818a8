"""A query budget: the list costs the same number of queries for 1 company or 20."""

import os

import pytest

from docs.examples.quickstart import Company, Owner, create_app
from docs.examples.testing_http import client_for
from fastapi_viewsets.testing import assert_num_queries, capture_queries

DB_URL = os.environ.get("TORTOISE_TEST_DB") or "sqlite://:memory:"


# --8<-- [start:budget]
@pytest.mark.parametrize("rows", [1, 20])
async def test_list_is_one_query(rows: int) -> None:
    async with client_for(create_app(DB_URL)) as client:
        owner = await Owner.create(name="Ada")
        for number in range(rows):
            await Company.create(name=f"Company {number}", owner=owner)

        with assert_num_queries(1):  # companies JOIN owners
            response = await client.get("/companies")
        assert len(response.json()) == rows
        # --8<-- [end:budget]


async def test_what_a_create_runs() -> None:
    async with client_for(create_app(DB_URL)) as client:
        with capture_queries() as queries:
            await client.post("/companies", json={"name": "Acme"})
        # One statement: the INSERT returns the new row with its owner's columns.
        assert len(queries) == 1
        assert "INSERT INTO" in queries.queries[0]
        assert "RETURNING" in queries.queries[0]

"""'a' or 'an' before a model's name, and lists of field names, in conflicts and OpenAPI."""

from __future__ import annotations

import pytest
from fastapi import APIRouter
from pydantic import BaseModel

from fastapi_viewsets import ModelViewSet, viewset
from fastapi_viewsets._english import article, conjoin, with_article
from tests.models import Invoice
from tests.utils import create_app


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("company", "a"),
        ("project", "a"),
        ("organisation", "an"),
        ("invoice", "an"),
        ("auditentry", "an"),
        ("item", "an"),
        ("order", "an"),
        ("update", "an"),  # "u" before two consonants
        ("umbrella", "an"),
        ("user", "a"),  # "u", a consonant, a vowel: said "you"
        ("unit", "a"),
        ("unique", "a"),
        ("university", "a"),
        ("up", "an"),
        ("u", "an"),
        ("Organisation", "an"),
        ("", "a"),
    ],
)
def test_article(word: str, expected: str) -> None:
    assert article(word) == expected


def test_with_article() -> None:
    assert with_article("organisation") == "an organisation"
    assert with_article("user") == "a user"


async def test_openapi_summaries_take_the_article() -> None:
    router = APIRouter(prefix="/invoices")

    class InvoiceWrite(BaseModel):
        amount: int
        company_id: int

    @viewset(router)
    class InvoiceViewSet(ModelViewSet[Invoice]):
        model = Invoice
        create_schema = InvoiceWrite

    spec = create_app(router).openapi()
    summaries = {
        operation["operationId"]: operation["summary"]
        for path in spec["paths"].values()
        for operation in path.values()
    }
    assert summaries == {
        "invoice_list": "List invoice objects",
        "invoice_create": "Create an invoice",
        "invoice_retrieve": "Retrieve an invoice",
        "invoice_update": "Replace an invoice",
        "invoice_partial_update": "Update some fields of an invoice",
        "invoice_destroy": "Delete an invoice",
    }


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ([], ""),
        (["name"], "name"),
        (["owner_id", "name"], "owner_id and name"),
        (["a", "b", "c"], "a, b and c"),
    ],
)
def test_field_names_read_as_a_sentence(words: list[str], expected: str) -> None:
    assert conjoin(words) == expected

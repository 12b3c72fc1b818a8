"""The public API: what ``fastapi_viewsets`` and its modules export, and that it is documented."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import fastapi_viewsets

PUBLIC_MODULES = sorted(
    f"fastapi_viewsets.{info.name}"
    for info in pkgutil.iter_modules(fastapi_viewsets.__path__)
    if not info.name.startswith("_")
)


def exported(module: ModuleType) -> list[str]:
    return list(getattr(module, "__all__", ()))


def test_all_is_sorted_and_unique() -> None:
    names = exported(fastapi_viewsets)
    assert names == sorted(names)
    assert len(names) == len(set(names))


def test_every_exported_name_exists() -> None:
    for name in exported(fastapi_viewsets):
        assert hasattr(fastapi_viewsets, name), name


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, Any] = {}
    exec("from fastapi_viewsets import *", namespace)
    namespace.pop("__builtins__")
    assert set(namespace) == set(fastapi_viewsets.__all__)


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_module_has_a_docstring_and_its_all_exists(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert (module.__doc__ or "").strip(), f"{module_name} has no docstring"
    names = exported(module)
    assert len(names) == len(set(names))
    for name in names:
        assert hasattr(module, name), f"{module_name}.__all__ names {name}, which is missing"


def test_the_package_reexports_the_same_objects_as_its_modules() -> None:
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in exported(module):
            if name in fastapi_viewsets.__all__:
                assert getattr(fastapi_viewsets, name) is getattr(module, name), name


def test_the_core_names_are_exported() -> None:
    assert {
        "GenericViewSet",
        "ModelViewSet",
        "ReadOnlyModelViewSet",
        "ListModelMixin",
        "CreateModelMixin",
        "RetrieveModelMixin",
        "UpdateModelMixin",
        "DestroyModelMixin",
        "action",
        "viewset",
        "ViewSetRoute",
        "ImproperlyConfigured",
        "APIException",
        "NotFound",
        "Conflict",
    } <= set(fastapi_viewsets.__all__)


def test_version() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+([abc]|rc|\.dev|\.post)?\d*", fastapi_viewsets.__version__)


def test_the_package_is_typed() -> None:
    assert (Path(fastapi_viewsets.__file__).parent / "py.typed").is_file()


def _documentable() -> list[Any]:
    seen: dict[int, str] = {}
    objects: dict[str, Any] = {}
    for module_name in ["fastapi_viewsets", *PUBLIC_MODULES]:
        module = importlib.import_module(module_name)
        for name in exported(module):
            obj = getattr(module, name, None)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)) or id(obj) in seen:
                continue
            seen[id(obj)] = name
            objects[f"{module_name}.{name}"] = obj
    return [pytest.param(obj, id=qualified) for qualified, obj in sorted(objects.items())]


@pytest.mark.parametrize("obj", _documentable())
def test_every_public_class_and_function_has_a_docstring(obj: Any) -> None:
    # The object's own docstring: a class does not inherit its parent's here.
    assert (obj.__doc__ or "").strip(), f"{obj.__module__}.{obj.__qualname__} has no docstring"

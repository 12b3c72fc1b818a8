"""The public API: what ``fastapi_viewsets`` and its modules export, and that it is documented."""

from __future__ import annotations

import ast
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


# --- the structure ---------------------------------------------------------------------------

PACKAGE = Path(fastapi_viewsets.__file__).parent
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py"))


def _imports(module: str) -> set[str]:
    """The package's modules that ``module`` imports, type-checking imports included."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found & set(MODULES) - {"__init__"}


def test_the_package_has_no_import_cycle() -> None:
    graph = {m: _imports(m) for m in MODULES if m != "__init__"}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> None:
        if module in done:
            return
        assert module not in visiting, " -> ".join([*visiting, module])
        visiting.append(module)
        for target in sorted(graph[module]):
            visit(target)
        visiting.pop()
        done.add(module)

    for module in graph:
        visit(module)


def test_the_development_page_lists_every_module() -> None:
    page = (PACKAGE.parent / "docs" / "development.md").read_text()
    layout = page.split("## Layout", 1)[1].split("## Architecture", 1)[0]
    listed = set(re.findall(r"^ {4}(\w+)\.py\b", layout, re.MULTILINE))
    assert listed == set(MODULES)


def test_imports_go_down_the_layers_of_the_architecture_page() -> None:
    page = (PACKAGE.parent / "docs" / "architecture.md").read_text()
    table = page.split("## Layers", 1)[1].split("## One request", 1)[0]
    layers: dict[str, int] = {}
    for depth, row in enumerate(re.findall(r"^\| [a-z ]+ \| (`.*?) \|", table, re.MULTILINE)):
        for module in re.findall(r"`(\w+)`", row):
            layers[module] = depth
    assert set(layers) == set(MODULES) - {"__init__"}
    upward = [
        f"{module} -> {target}"
        for module in layers
        for target in _imports(module)
        if layers[target] < layers[module]
    ]
    assert upward == []


def test_the_reference_documents_the_module_of_every_public_name() -> None:
    import fastapi_viewsets

    pages = (PACKAGE.parent / "docs" / "reference").glob("*.md")
    documented = {
        m for page in pages for m in re.findall(r"^::: ([\w.]+)$", page.read_text(), re.M)
    }
    missing = sorted(
        f"{name} ({getattr(fastapi_viewsets, name).__module__})"
        for name in fastapi_viewsets.__all__
        if getattr(getattr(fastapi_viewsets, name), "__module__", "fastapi_viewsets")
        not in documented
        and hasattr(getattr(fastapi_viewsets, name), "__module__")
    )
    assert missing == []

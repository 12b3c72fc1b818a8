"""fastapi_viewsets: Django REST Framework style viewsets for FastAPI, Tortoise ORM and Pydantic.

::

    from fastapi import APIRouter
    from fastapi_viewsets import ModelViewSet, viewset

    router = APIRouter(prefix="/companies", tags=["companies"])

    @viewset(router)
    class CompanyViewSet(ModelViewSet[Company]):
        model = Company
        read_schema = CompanyRead
        create_schema = CompanyCreate
"""

from .actions import action
from .exceptions import (
    APIException,
    Conflict,
    ImproperlyConfigured,
    MethodNotAllowed,
    NotAuthenticated,
    NotFound,
    ParseError,
    PermissionDenied,
    StateNotAvailable,
)
from .generics import GenericViewSet
from .log import RequestIdLogFilter
from .middleware import RequestStateMiddleware
from .mixins import (
    CreateModelMixin,
    DestroyModelMixin,
    ListModelMixin,
    RetrieveModelMixin,
    UpdateModelMixin,
)
from .permissions import (
    AllowAny,
    BasePermission,
    DenyAll,
    IsAdminUser,
    IsAuthenticated,
    IsAuthenticatedOrReadOnly,
)
from .routing import ViewSetRoute, viewset
from .state import BaseStateManager
from .viewsets import ModelViewSet, ReadOnlyModelViewSet

__version__ = "0.1.0"

__all__ = [
    "APIException",
    "AllowAny",
    "BasePermission",
    "BaseStateManager",
    "Conflict",
    "CreateModelMixin",
    "DenyAll",
    "DestroyModelMixin",
    "GenericViewSet",
    "ImproperlyConfigured",
    "IsAdminUser",
    "IsAuthenticated",
    "IsAuthenticatedOrReadOnly",
    "ListModelMixin",
    "MethodNotAllowed",
    "ModelViewSet",
    "NotAuthenticated",
    "NotFound",
    "ParseError",
    "PermissionDenied",
    "ReadOnlyModelViewSet",
    "RequestIdLogFilter",
    "RequestStateMiddleware",
    "RetrieveModelMixin",
    "StateNotAvailable",
    "UpdateModelMixin",
    "ViewSetRoute",
    "__version__",
    "action",
    "viewset",
]

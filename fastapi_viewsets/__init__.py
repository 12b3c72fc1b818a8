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
    ContentTooLarge,
    ImproperlyConfigured,
    MethodNotAllowed,
    NotAuthenticated,
    NotFound,
    ParseError,
    PermissionDenied,
    PreconditionFailed,
    PreconditionRequired,
    ServiceUnavailable,
    StateNotAvailable,
    Throttled,
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
from .problems import install_problem_details
from .routing import ViewSetRoute, viewset
from .state import BaseStateManager
from .store import configure_store, get_store
from .throttling import (
    AnonRateThrottle,
    BaseThrottle,
    ScopedRateThrottle,
    SimpleRateThrottle,
    UserRateThrottle,
)
from .viewsets import ModelViewSet, ReadOnlyModelViewSet

__version__ = "0.1.0"

__all__ = [
    "APIException",
    "AllowAny",
    "AnonRateThrottle",
    "BasePermission",
    "BaseStateManager",
    "BaseThrottle",
    "Conflict",
    "ContentTooLarge",
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
    "PreconditionFailed",
    "PreconditionRequired",
    "ReadOnlyModelViewSet",
    "RequestIdLogFilter",
    "RequestStateMiddleware",
    "RetrieveModelMixin",
    "ScopedRateThrottle",
    "ServiceUnavailable",
    "SimpleRateThrottle",
    "StateNotAvailable",
    "Throttled",
    "UpdateModelMixin",
    "UserRateThrottle",
    "ViewSetRoute",
    "__version__",
    "action",
    "configure_store",
    "get_store",
    "install_problem_details",
    "viewset",
]

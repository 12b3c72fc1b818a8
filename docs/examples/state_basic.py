"""Set the user in an app-wide dependency; read it, the request and the action in a viewset.

The page's other examples import its model, its schemas and ``get_current_user``.
"""

import logging

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict
from tortoise import fields
from tortoise.models import Model

from fastapi_viewsets import BasePermission, IsAuthenticated, ModelViewSet, viewset
from fastapi_viewsets.state import BaseStateManager

logger = logging.getLogger(__name__)


class OptionalHTTPBearer(HTTPBearer):
    async def __call__(self, request: Request) -> HTTPAuthorizationCredentials | None:
        credentials: HTTPAuthorizationCredentials | None = None
        try:
            credentials = await super().__call__(request)
        except HTTPException:
            # No credentials provided - allow anonymous
            return None
        return credentials


async def get_current_user(
    token: HTTPAuthorizationCredentials | None = Depends(OptionalHTTPBearer()),
):
    if token and token.credentials == "token":  # Your logic
        user = {"id": 1, "username": "john"}
        BaseStateManager.set_user(user)
        return user
    return None


class Company(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)
    is_public = fields.BooleanField(default=True)
    owner_id = fields.IntField(null=True)  # the id of the user who owns it


class CompanyReadSchema(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    is_public: bool
    owner_id: int | None


class CompanyCreateSchema(BaseModel):
    name: str
    is_public: bool = True
    owner_id: int | None = None


class IsOwner(BasePermission):
    message = "Only the owner may delete this company."

    def has_object_permission(self, request, view, obj):
        return obj.owner_id == view.user["id"]


router = APIRouter(prefix="/companies", tags=["companies"])


@viewset(router)
class CompanyViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyReadSchema
    create_schema = CompanyCreateSchema

    def get_queryset(self):
        # Access current user
        user = self.user

        # Access current request
        request = self.request
        client_ip = request.client.host if request.client else "-"
        user_agent = request.headers.get("user-agent")

        # Access current action
        action = self.action

        logger.info("%s from %s (%s)", action, client_ip, user_agent)
        if user:
            return Company.filter(owner_id=user["id"])  # this user is a dict
        return Company.filter(is_public=True)

    def get_permissions(self):
        # Different permissions based on action
        if self.action in ("list", "retrieve"):
            return []  # Public read access
        if self.action in ("create", "update", "partial_update"):
            return [IsAuthenticated()]
        if self.action == "destroy":
            return [IsAuthenticated(), IsOwner()]
        return super().get_permissions()


# Apply to app: no other set-up, viewset routes open the request's state themselves.
app = FastAPI(dependencies=[Depends(get_current_user)])
app.include_router(router)

"""A custom state manager, chosen per viewset with ``state_class``.

``get_current_user`` sets the user through ``BaseStateManager``; the viewset's
``CustomStateManager`` sees it, because both are views of the request's one state.
"""

import time

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict

from docs.examples.state_basic import Company
from fastapi_viewsets import ModelViewSet, viewset
from fastapi_viewsets.state import BaseStateManager


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


class CustomStateManager(BaseStateManager):
    """Custom state manager with additional properties"""

    @property
    def organization_id(self) -> int | None:
        """Get current user's organization ID"""
        if self.user:
            return getattr(self.user, "organization_id", None)
        return None

    @property
    def is_admin(self) -> bool:
        """Check if current user is admin"""
        if self.user:
            return getattr(self.user, "is_admin", False)
        return False

    @property
    def permissions(self) -> list:
        """Get cached user permissions"""
        return self.get("cached_permissions", [])

    def cache_permissions(self, permissions: list):
        """Cache user permissions for this request"""
        self.set("cached_permissions", permissions)

    def log_activity(self, action: str, details: dict | None = None):
        """Log user activity"""
        activity = {
            # get_current_user's user is a dict: self.user["id"], not self.user.id
            "user_id": self.user["id"] if self.user else None,
            "action": action,
            "details": details or {},
            "timestamp": time.time(),
            "ip_address": self.request.client.host if self.request else None,
        }

        activities = self.get("activities", [])
        activities.append(activity)
        self.set("activities", activities)


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


router = APIRouter(prefix="/companies", tags=["companies"])


# Use custom state manager in ViewSets
@viewset(router)
class CompanyViewSet(ModelViewSet[Company]):
    model = Company
    read_schema = CompanyReadSchema
    create_schema = CompanyCreateSchema
    state_class = CustomStateManager  # Use custom state manager

    def get_queryset(self):
        # Access custom properties
        org_id = self.state.organization_id
        is_admin = self.state.is_admin

        if is_admin:
            return Company.all()
        if org_id:
            return Company.filter(owner_id=org_id)  # your models: organization_id=org_id
        return Company.filter(is_public=True)

    async def perform_create(self, obj):
        # Log activity
        self.state.log_activity("company_created", {"company_name": obj.name})

        return await super().perform_create(obj)


app = FastAPI(dependencies=[Depends(get_current_user)])
app.include_router(router)

"""Custom data: set in a dependency, read in the viewset; the state's methods."""

import time

from fastapi import APIRouter, Depends, FastAPI

from docs.examples.state_basic import Company, CompanyReadSchema, get_current_user
from fastapi_viewsets import ReadOnlyModelViewSet, action, viewset
from fastapi_viewsets.state import BaseStateManager


async def load_context(user: dict | None = Depends(get_current_user)) -> None:
    # In middleware or dependency
    state = BaseStateManager.get_state()
    state.set("organization_id", user["id"] if user else None)
    state.set("request_start_time", time.time())
    state.set("feature_flags", {"new_filtering": True, "beta_feature": False})


router = APIRouter(prefix="/companies", tags=["companies"])


@viewset(router)
class CompanyViewSet(ReadOnlyModelViewSet[Company]):
    model = Company
    read_schema = CompanyReadSchema

    def get_queryset(self):
        state = self.state

        # Get custom data
        org_id = state.get("organization_id")
        feature_flags = state.get("feature_flags", {})

        queryset = Company.filter(owner_id=org_id)

        if feature_flags.get("new_filtering"):
            queryset = queryset.filter(is_public=True)

        return queryset

    @action(detail=False)
    async def preferences(self) -> dict:
        state = BaseStateManager.get_state()  # the same state as self.state

        # Set individual values
        state.set("key", "value")
        state.set("user_preferences", {"theme": "dark", "language": "en"})
        state.set("temporary_data", [1, 2, 3])

        # Get with default
        value = state.get("key", "default_value")
        missing = state.get("missing", "default_value")

        # Check if key exists
        prefs = state.get("user_preferences") if state.has("user_preferences") else None

        # Remove specific key
        state.remove("temporary_data")

        seen = {
            "value": value,
            "missing": missing,
            "prefs": prefs,
            "temporary_data": state.has("temporary_data"),
            "started": state.get("request_start_time") is not None,
        }

        # Clear all custom data (keeps request, user, action and request_id)
        state.clear()
        seen["after_clear"] = {
            "key": state.has("key"),
            "user": state.user,
            "action": state.action,
            "request_id": state.request_id == self.state.request_id,
        }
        return seen


app = FastAPI(dependencies=[Depends(load_context)])
app.include_router(router)

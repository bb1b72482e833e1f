"""Request and response models of ``/v1/auth`` (the sign-in form is FastAPI's ``OAuth2PasswordRequestForm``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from api.schemas import _examples


class TokenResponse(BaseModel):
    """A signed bearer token (OAuth2 password flow): send it as ``Authorization: Bearer <access_token>``."""

    model_config = _examples(
        {
            "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbmEi...",
            "token_type": "bearer",
            "expires_in": 1800,
            "role": "viewer",
        }
    )

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the token expires; then sign in again.")
    role: str = Field(description="The user's role: viewer, predictor or admin.")

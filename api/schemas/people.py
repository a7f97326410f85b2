"""People: logging in, the session, changing a password, and the users of a tenant."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from api.schemas.common import Ident, Strict
from domain.people.rules import MAX_PASSWORD, Role

Login = Field(pattern=r"^[A-Za-z0-9._@-]{3,64}$", examples=["li.wei"],
              description="3 to 64 letters, digits, '.', '_', '@' or '-'")


class LoginIn(Strict):
    login: str = Field(max_length=64)
    password: str = Field(max_length=MAX_PASSWORD)


class SessionOut(BaseModel):
    login: str
    role: Role
    enterprise_id: str | None
    agent_id: str | None = None
    must_change_password: bool = Field(
        description="a one-time password: change it (PUT /v1/session/password) before "
                    "anything else")
    csrf_token: str = Field(
        description="send it as X-CSRF-Token with every change made through this session")


class PasswordChange(Strict):
    current_password: str = Field(max_length=MAX_PASSWORD)
    new_password: str = Field(max_length=MAX_PASSWORD)


class UserCreate(Strict):
    login: str = Login
    role: Role
    enterprise_id: Ident | None = None
    agent_id: Ident | None = Field(
        default=None, description="the agent of an agent_admin, agent_viewer or end_user")


class UserPublic(BaseModel):
    login: str
    role: Role
    enterprise_id: str | None
    agent_id: str | None = None
    must_change_password: bool
    locked_until: datetime | None
    created_at: datetime


class UserCreated(UserPublic):
    one_time_password: str = Field(
        description="shown only in this answer; its owner must change it at first login")

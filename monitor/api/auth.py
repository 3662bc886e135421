"""Bearer-token checks: writes always need ``PERPWATCH_API_TOKEN``; reads too unless
``api.public_reads``. The token is compared in constant time and never logged."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Annotated

from fastapi import HTTPException, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

bearer = HTTPBearer(auto_error=False, description="PERPWATCH_API_TOKEN")

Check = Callable[[HTTPAuthorizationCredentials | None], None]


def token_check(token: str | None, *, required: bool) -> Check:
    """A FastAPI dependency: passes when not ``required`` or the request carries ``token``;
    else 401 (without a configured token, nothing can pass)."""

    def check(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    ) -> None:
        if not required:
            return
        given = credentials.credentials if credentials is not None else ""
        if token is None or not secrets.compare_digest(given.encode(), token.encode()):
            detail = (
                "PERPWATCH_API_TOKEN is not set on the server: this needs it"
                if token is None
                else "missing or wrong bearer token"
            )
            raise HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})

    return check

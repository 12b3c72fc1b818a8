import hashlib
import secrets

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi_viewsets import BaseStateManager

from .models import Author, Token

# auto_error=False: a request without a token is anonymous, and the permissions decide.
bearer = HTTPBearer(auto_error=False, description="An API token from `python -m blog.tokens`.")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_token(author: Author) -> str:
    token = secrets.token_urlsafe(32)  # 256 random bits: nothing to guess
    await Token.create(author=author, digest=digest(token))
    return token  # shown once; the database keeps only its digest


async def get_current_user(
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
) -> Author | None:
    user = None
    if credentials is not None:
        token = await Token.filter(digest=digest(credentials.credentials)).first()
        if token is not None:
            user = await token.author
    BaseStateManager.set_user(user)  # None: anonymous
    return user

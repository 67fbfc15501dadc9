"""The API's errors: each becomes a JSON ``{"detail": ...}`` with its status code."""

from __future__ import annotations


class ApiError(Exception):
    status = 400
    headers: dict[str, str] | None = None

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequestError(ApiError):
    status = 400


class UnauthorizedError(ApiError):
    status = 401
    headers = {"WWW-Authenticate": "Bearer"}  # noqa: RUF012 - a constant


class ForbiddenError(ApiError):
    status = 403


class NotFoundError(ApiError):
    status = 404


class ConflictError(ApiError):
    status = 409


class UnavailableError(ApiError):
    """A dependency the request needs is down: try again after ``Retry-After`` seconds."""

    status = 503

    def __init__(self, dependency: str, detail: str, retry_after_s: int = 5) -> None:
        super().__init__(f"{dependency} is unavailable: {detail}")
        self.dependency = dependency
        self.headers = {"Retry-After": str(retry_after_s)}

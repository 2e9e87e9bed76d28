"""Domain errors: services raise these; each face turns them into its own wire format."""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    title = "Bad Request"

    def __init__(self, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class Invalid(DomainError):
    status, title = 400, "Bad Request"


class Unauthenticated(DomainError):
    status, title = 401, "Unauthorized"


class PermissionDenied(DomainError):
    status, title = 403, "Forbidden"


class NotFound(DomainError):
    status, title = 404, "Not Found"


class Conflict(DomainError):
    status, title = 409, "Conflict"


class TooLarge(DomainError):
    status, title = 413, "Content Too Large"


class Throttled(DomainError):
    status, title = 429, "Too Many Requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = max(1, int(retry_after))


class Unavailable(Throttled):
    """503: the server can't take the request now (shutting down, its database busy or
    unreachable), though nothing is wrong with it; retry after `retry_after` seconds."""

    status, title = 503, "Service Unavailable"


class NotAcceptable(DomainError):
    status, title = 406, "Not Acceptable"

"""The exception tree of Postroom and its single mapping to API envelopes (SMTP replies: smtp/errors.py).

PostroomError
 ├── ConfigError          a bad setting, reported once at start
 ├── InvalidInput         a field fails validation (400 NON_VALIDATING_IN_PAYLOAD)
 │    └── MessageTooBig   the composed message is over the size limit (SMTP: 552)
 ├── AuthError
 │    ├── MalformedKey    missing or malformed API key (401 INVALID_IN_PAYLOAD)
 │    └── InvalidKey      well-formed key that is unknown or blocked (401 API_EXCEPTION)
 ├── Forbidden            key lacks permission (403 ENDPOINT_PERMISSION_DENIED)
 ├── NotFound             the thing named does not exist (404 API_EXCEPTION)
 ├── Conflict             valid request that cannot be done (402 API_EXCEPTION)
 ├── MethodNotAllowed     wrong HTTP method on a known path (405 API_EXCEPTION)
 ├── RateLimited          too many requests (429 REQ_LIMIT_EXCEEDED)
 └── StorageUnavailable   the database cannot take the write (503 API_EXCEPTION)
"""

from __future__ import annotations

from typing import Any

API_EXCEPTION = "E_ApiResponseCodes.API_EXCEPTION"
INVALID_IN_PAYLOAD = "E_ApiResponseCodes.INVALID_IN_PAYLOAD"
NON_VALIDATING = "E_ApiResponseCodes.NON_VALIDATING_IN_PAYLOAD"
PERMISSION_DENIED = "E_ApiResponseCodes.ENDPOINT_PERMISSION_DENIED"
REQ_LIMIT_EXCEEDED = "E_ApiResponseCodes.REQ_LIMIT_EXCEEDED"


class PostroomError(Exception):
    """Base of every error Postroom raises on purpose."""

    status = 500
    code = API_EXCEPTION

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def data(self) -> dict[str, Any]:
        """The `data` object of the API error envelope."""
        return {"error": self.message, "error_code": self.code}


class ConfigError(PostroomError):
    """A setting has a bad value; raised once at start."""


class InvalidInput(PostroomError):
    status = 400
    code = NON_VALIDATING

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field

    def data(self) -> dict[str, Any]:
        return {
            "error": "An error occurred processing the JSON data: " + self.message,
            "error_code": self.code,
            "field_validation_errors": {"fieldname": self.field, "message": self.message},
        }


class MessageTooBig(InvalidInput):
    """A composed or submitted message over the size limit (`limit` bytes)."""

    def __init__(self, limit: int) -> None:
        super().__init__("body", f"The message is larger than the limit of {limit} bytes")
        self.limit = limit


class AuthError(PostroomError):
    status = 401


class MalformedKey(AuthError):
    code = INVALID_IN_PAYLOAD


class InvalidKey(AuthError):
    code = API_EXCEPTION


class Forbidden(PostroomError):
    status = 403
    code = PERMISSION_DENIED


class NotFound(PostroomError):
    status = 404


class Conflict(PostroomError):
    status = 402


class MethodNotAllowed(PostroomError):
    status = 405


class RateLimited(PostroomError):
    status = 429
    code = REQ_LIMIT_EXCEEDED


class StorageUnavailable(PostroomError):
    status = 503

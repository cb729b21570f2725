"""SCIM errors (RFC 7644 §3.12): one exception type that renders as the Error schema."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


class ScimError(Exception):
    """A request the server refuses; `status` is the HTTP status, `scim_type` the RFC keyword."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type

    def body(self) -> dict[str, Any]:
        """The Error resource; `status` is a string, as the RFC's examples and Okta expect."""
        body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(self.status),
                                "detail": self.detail}
        if self.scim_type:
            body["scimType"] = self.scim_type
        return body


def _refusal(status: int, scim_type: str | None = None) -> Callable[[str], ScimError]:
    """A maker of one kind of refusal: the same status and keyword, the detail per call."""
    def make(detail: str) -> ScimError:
        return ScimError(status, detail, scim_type)
    return make


invalid_value = _refusal(400, "invalidValue")
invalid_syntax = _refusal(400, "invalidSyntax")
invalid_filter = _refusal(400, "invalidFilter")
invalid_path = _refusal(400, "invalidPath")
no_target = _refusal(400, "noTarget")
mutability = _refusal(400, "mutability")
not_found = _refusal(404)
uniqueness = _refusal(409, "uniqueness")

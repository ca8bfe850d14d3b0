"""Assertions on the SMTP2GO response envelope, shared by the API tests."""

from __future__ import annotations

from typing import Any

import httpx

NON_VALIDATING = "E_ApiResponseCodes.NON_VALIDATING_IN_PAYLOAD"
API_EXCEPTION = "E_ApiResponseCodes.API_EXCEPTION"


def ok(r: httpx.Response) -> Any:
    """`data` of a 200 answer."""
    assert r.status_code == 200, r.text
    return r.json()["data"]


def error(r: httpx.Response, status: int, code: str = API_EXCEPTION) -> dict[str, Any]:
    """`data` of an error answer, after checking its status, code and sentence."""
    assert r.status_code == status, r.text
    data: dict[str, Any] = r.json()["data"]
    assert data["error_code"] == code and data["error"]
    return data


def invalid(r: httpx.Response, field: str) -> None:
    """A 400 whose field_validation_errors names `field`."""
    assert error(r, 400, NON_VALIDATING)["field_validation_errors"]["fieldname"] == field

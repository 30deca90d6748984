from __future__ import annotations

import json

import pytest
from kubernetes.client.exceptions import ApiException

from storage_operator.errors import Conflict, KubeAPIError, NotFound
from storage_operator.kube.errors import api_errors, translate


def _exc(status: int, reason: str, message: str) -> ApiException:
    exc = ApiException(status=status, reason=reason)
    exc.body = json.dumps({"kind": "Status", "reason": reason, "message": message})
    return exc


def test_not_found_and_conflict_map_to_their_own_types() -> None:
    assert isinstance(translate(_exc(404, "NotFound", 'nodes "x" not found')), NotFound)
    assert isinstance(translate(_exc(409, "AlreadyExists", "exists")), Conflict)


def test_other_errors_keep_status_reason_and_message() -> None:
    err = translate(_exc(403, "Forbidden", "secrets is forbidden"))
    assert isinstance(err, KubeAPIError)
    assert (err.status, err.reason, err.detail) == (403, "Forbidden", "secrets is forbidden")


def test_api_errors_chains_the_original() -> None:
    original = _exc(422, "Invalid", "spec.x: Invalid value")
    with pytest.raises(KubeAPIError) as info, api_errors():
        raise original
    assert info.value.__cause__ is original

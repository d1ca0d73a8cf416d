"""The engine's error types carry what a caller needs: kind and key, field and reason."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from controller.config.policies import Scope, policy_adapter
from controller.policies.errors import Invalid, NotFound, PolicyError, Refused


def test_all_share_one_root_and_none_is_a_builtin_lookup_or_value_error() -> None:
    for err in (NotFound("policy", "p"), Invalid("f", "r"), Refused("r")):
        assert isinstance(err, PolicyError)
        assert not isinstance(err, KeyError | ValueError | TypeError)


def test_not_found_names_kind_and_key() -> None:
    err = NotFound("override", "ab12")
    assert (err.kind, err.key, str(err)) == ("override", "ab12", "unknown override ab12")


def test_invalid_from_pydantic_keeps_every_field_under_a_prefix() -> None:
    with pytest.raises(ValidationError) as caught:
        Scope.model_validate({"bogus": 1, "rooms": 5})
    err = Invalid.from_validation(caught.value, "scope")
    fields = {field for field, _ in err.issues}
    assert fields == {"scope.bogus", "scope.rooms"}
    assert (err.field, err.reason) == err.issues[0]


def test_invalid_policy_config_names_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        policy_adapter().validate_python({"id": "x", "type": "ac_limits", "cool_min_c": 5})
    err = Invalid.from_validation(caught.value)
    assert err.field.endswith("cool_min_c")
    assert str(err).startswith(err.field)

"""Checks of identity bodies against ory-client's own models.

ory-client is imported with this module, not on first use: loading its models takes a second or
two, and a first call paying for it inside a Hypothesis example would exceed Hypothesis' default
deadline of 200 ms (``DeadlineExceeded``, then "Unreliable test timings"). A test module that
imports :func:`assert_valid_identity_body` or :func:`unknown_keys` at its top pays it once, while
it is collected.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import io
import types
import typing
from collections.abc import Mapping
from typing import Any

from ory_client.models.create_identity_body import CreateIdentityBody
from pydantic import BaseModel, ValidationError

from auth0_ory_migrate import dump_identity, ory_hash_problem, read_identities

from ._assertions import _config
from ._ory_admin import is_supported_password_hash


__all__ = ["assert_valid_identity_body", "unknown_keys"]


def _unwrap(annotation: Any) -> tuple[bool, type[BaseModel] | None]:
    """``(is a list, the pydantic model inside)`` of an annotation, through Optional/Annotated."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                return _unwrap(arg)
    if origin is list:
        (item,) = typing.get_args(annotation)
        return True, _unwrap(item)[1]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return False, annotation
    return False, None


def unknown_keys(data: Any, model: type[BaseModel] | None = None, path: str = "") -> list[str]:
    """Every key of *data* that an ory-client model (walked recursively) has no field for.

    Ory's admin API rejects a whole request for one unknown key, while ory-client happily keeps
    and re-sends unknown keys: this finds them first. Fields typed ``Any`` or
    ``Dict[str, Any]`` (traits, metadata) are free-form and not walked.

    Args:
        data: A JSON object.
        model: The ory-client model (default: ``CreateIdentityBody``).
        path: Prefix for the paths returned.

    Returns:
        Dotted paths of the unknown keys (``credentials.password.config.salt``), and of values
        that should be objects or lists but are not.

    .. versionadded:: 0.1.0
    """
    if model is None:
        model = CreateIdentityBody
    if not isinstance(data, dict):
        return [f"{path or '<root>'} is not an object"]
    fields = {
        (info.alias or name): info
        for name, info in model.model_fields.items()
        if name != "additional_properties"  # the SDK's catch-all for unknown keys
    }
    problems = []
    for key, value in data.items():
        where = f"{path}.{key}" if path else key
        if key not in fields:
            problems.append(where)
            continue
        is_list, sub_model = _unwrap(fields[key].annotation)
        if sub_model is None or value is None:
            continue
        if is_list:
            if not isinstance(value, list):
                problems.append(f"{where} is not a list")
                continue
            for index, item in enumerate(value):
                problems.extend(unknown_keys(item, sub_model, f"{where}[{index}]"))
        else:
            problems.extend(unknown_keys(value, sub_model, where))
    return problems


def _additional_properties(model: BaseModel, path: str = "body") -> list[str]:
    """Paths of every parsed model that stored unknown keys in additional_properties."""
    extra = getattr(model, "additional_properties", None)
    found = [f"{path}: {sorted(extra)}"] if extra else []
    for name in type(model).model_fields:
        value = getattr(model, name)
        values = value if isinstance(value, list) else [value]
        for index, item in enumerate(values):
            if isinstance(item, BaseModel):
                found.extend(_additional_properties(item, f"{path}.{name}[{index}]"))
    return found


def _body_problem(body: dict[str, Any]) -> str | None:
    """The first rule of Ory's ``CreateIdentityBody`` that *body* breaks, in words (no value)."""
    __tracebackhide__ = True
    unknown = unknown_keys(body, CreateIdentityBody)
    if unknown:
        return f"unknown keys (Ory rejects the whole request): {', '.join(unknown)}"
    try:
        parsed = CreateIdentityBody.from_dict(body)
    except ValidationError as e:  # its message would show the values: name the fields only
        fields = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        return f"ory-client rejects the body: {fields}"
    if parsed is None:
        return "ory-client cannot parse the body"
    extra = _additional_properties(parsed)
    if extra:
        return f"ory-client keeps unknown keys: {'; '.join(extra)}"
    if "state" in body and body["state"] not in ("active", "inactive"):
        return "state must be active or inactive (or left out: Ory makes the identity active)"
    for key in ("metadata_admin", "metadata_public"):
        if not isinstance(body.get(key, {}), dict):
            return f"{key} must be a JSON object"
    hashed = _config(body.get("credentials"), "password").get("hashed_password")
    if hashed is not None:
        problem = ory_hash_problem(hashed)
        if problem is None and not is_supported_password_hash(hashed):
            problem = "its parameters are outside what Ory's import accepts (see the test server)"
        if problem is not None:
            return f"Ory does not accept the hashed_password: {problem}"
    if "external_id" in body and list(read_identities(io.BytesIO(dump_identity(body)))) != [body]:
        return "the body does not survive the identities file unchanged"
    return None


def assert_valid_identity_body(body: Mapping[str, Any]) -> None:
    """Assert that *body* is a ``CreateIdentityBody`` Ory's admin API accepts.

    Checks: no unknown key anywhere (see :func:`unknown_keys`), ory-client parses it, ``state``
    (optional, as in ory-client's model and Ory's API: Ory makes the identity ``active``) is
    ``active`` or ``inactive``, metadata are objects, a ``hashed_password`` is in a format Ory
    recognises with parameters its import accepts (as the test server checks them), and a body
    with an ``external_id`` (the identities file's key) survives the identities file unchanged.

    Raises:
        AssertionError: Naming the first rule broken and the field, never a value (no hash,
            TOTP URL or password).

    .. versionadded:: 0.1.0
    """
    __tracebackhide__ = True
    problem = _body_problem(dict(body))
    if problem is not None:
        external_id = body.get("external_id")
        who = f"{external_id}: " if isinstance(external_id, str) else ""
        raise AssertionError(f"{who}{problem}")

"""The Ory identity schema for migrated traits, and checking traits against a schema (pure).

:func:`build_identity_schema` writes the JSON schema (draft-07, with Ory's ``ory.sh/kratos``
extensions) for the traits the mapping writes: by default the equivalent of Ory Network's
``preset://email``; with ``name``, ``username`` or ``phone`` for custom mappings.

:class:`TraitsValidator` checks a traits object against any identity schema and names the
failing field, without repeating its value (traits hold personal data). Schemas made of the
common keywords (``type``, ``properties``, ``required``, ``additionalProperties``,
``minLength``, ``maxLength``, ``pattern``, ``format`` email/tel) are checked by a small
compiled checker, fast enough for millions of records; any other schema goes through the
``jsonschema`` library (draft-07, as Ory). Formats follow Ory's validator: ``email`` as the
Go ``jsonschema`` library checks it, ``tel`` as an E.164 number.

The helpers at the end turn a schema into Ory's ``base64://`` URL, the ``ory patch
identity-config`` command of Ory's guide, and the JSON patch that adds it to a project.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal

from attrs import define, field, frozen

from ..exceptions import SchemaError
from ._records import UnreadableRecord
from ._users import Auth0User


__all__ = [
    "DEFAULT_CONSOLE_URL",
    "PRESET_EMAIL",
    "ProjectInfo",
    "SchemaApplyResult",
    "SchemaPatchPlan",
    "SchemaSuggestion",
    "TraitName",
    "TraitsProblem",
    "TraitsValidator",
    "UnknownSchema",
    "UnknownSchemaTally",
    "build_identity_schema",
    "is_email",
    "is_tel",
    "ory_patch_identity_config_command",
    "plan_schema_patch",
    "preset_schema",
    "schema_traits_problem",
    "schema_url",
    "suggest_identity_schema",
    "trait_mapping_for",
    "trait_mapping_for_schema",
]

#: Ory Network's email-and-password preset schema id.
PRESET_EMAIL = "preset://email"

#: The traits :func:`build_identity_schema` knows.
TraitName = Literal["email", "name", "username", "phone"]

_TRAIT_ORDER: tuple[TraitName, ...] = ("email", "username", "phone", "name")
_IDENTIFIERS: tuple[TraitName, ...] = ("email", "username", "phone")
_DEFAULT_TRAITS: tuple[TraitName, ...] = ("email",)
_DRAFT_07 = "http://json-schema.org/draft-07/schema#"
_KRATOS = "ory.sh/kratos"


# -- building ------------------------------------------------------------------------------------


def build_identity_schema(
    traits: Collection[TraitName] = _DEFAULT_TRAITS,
    *,
    required: Collection[TraitName] | None = None,
    title: str = "Person",
    schema_uri: str | None = None,
    code_login: bool = False,
) -> dict[str, Any]:
    """Build an Ory identity schema for the given traits.

    Traits and their Ory extensions:

    * ``email`` — string, format ``email``, at most 320 characters; identifier for
      password and WebAuthn (and one-time codes with *code_login*), TOTP account name,
      recovery and verification by email. ``("email",)`` alone is the equivalent of
      ``preset://email``.
    * ``username`` — string of 1 to 128 characters; identifier for password and WebAuthn
      (TOTP account name when there is no email).
    * ``phone`` — string, format ``tel`` (E.164, as Auth0 stores ``phone_number``);
      identifier for SMS one-time codes, verification by SMS (TOTP account name when
      there is neither email nor username).
    * ``name`` — object ``{"first": …, "last": …}`` (Auth0's ``given_name`` and
      ``family_name``), no extension.

    Args:
        traits: Which traits the schema has; at least one of email, username, phone.
        required: Which traits every identity must have. By default the first
            identifier of email, username, phone that is present.
        title: The schema's ``title``.
        schema_uri: An ``$id`` for the schema, or None for none.
        code_login: Also make the email an identifier for one-time-code login.

    Returns:
        The schema as a JSON-ready dict.

    Raises:
        SchemaError: Unknown trait, no identifier, or a required trait not in *traits*.

    .. versionadded:: 0.1.0
    """
    wanted = set(traits)
    unknown = wanted - set(_TRAIT_ORDER)
    if unknown:
        raise SchemaError(f"unknown trait(s): {', '.join(sorted(unknown))}")
    identifiers = [t for t in _IDENTIFIERS if t in wanted]
    if not identifiers:
        raise SchemaError("the schema needs an identifier trait: email, username or phone")
    must = list(required) if required is not None else identifiers[:1]
    missing = [t for t in must if t not in wanted]
    if missing:
        raise SchemaError(f"required trait(s) not in the schema: {', '.join(missing)}")
    totp_on = identifiers[0]

    properties: dict[str, Any] = {}
    for trait in _TRAIT_ORDER:
        if trait not in wanted:
            continue
        if trait == "email":
            credentials: dict[str, Any] = {
                "password": {"identifier": True},
                "webauthn": {"identifier": True},
            }
            if code_login:
                credentials["code"] = {"identifier": True, "via": "email"}
            if totp_on == "email":
                credentials["totp"] = {"account_name": True}
            properties["email"] = {
                "type": "string",
                "format": "email",
                "title": "E-Mail",
                "maxLength": 320,
                _KRATOS: {
                    "credentials": credentials,
                    "recovery": {"via": "email"},
                    "verification": {"via": "email"},
                },
            }
        elif trait == "username":
            credentials = {"password": {"identifier": True}, "webauthn": {"identifier": True}}
            if totp_on == "username":
                credentials["totp"] = {"account_name": True}
            properties["username"] = {
                "type": "string",
                "title": "Username",
                "minLength": 1,
                "maxLength": 128,
                _KRATOS: {"credentials": credentials},
            }
        elif trait == "phone":
            credentials = {"code": {"identifier": True, "via": "sms"}}
            if totp_on == "phone":
                credentials["totp"] = {"account_name": True}
            properties["phone"] = {
                "type": "string",
                "format": "tel",
                "title": "Phone number",
                _KRATOS: {"credentials": credentials, "verification": {"via": "sms"}},
            }
        else:
            properties["name"] = {
                "type": "object",
                "title": "Name",
                "properties": {
                    "first": {"type": "string", "title": "First name"},
                    "last": {"type": "string", "title": "Last name"},
                },
                "additionalProperties": False,
            }

    schema: dict[str, Any] = {}
    if schema_uri:
        schema["$id"] = schema_uri
    schema.update(
        {
            "$schema": _DRAFT_07,
            "title": title,
            "type": "object",
            "properties": {
                "traits": {
                    "type": "object",
                    "properties": properties,
                    "required": [t for t in _TRAIT_ORDER if t in set(must)],
                    "additionalProperties": False,
                }
            },
        }
    )
    return schema


#: Where each trait of :func:`build_identity_schema` comes from in an Auth0 user.
_TRAIT_SOURCES: dict[TraitName, dict[str, str]] = {
    "email": {"email": "email"},
    "username": {"username": "username"},
    "phone": {"phone": "phone_number"},
    "name": {"name.first": "given_name", "name.last": "family_name"},
}


def trait_mapping_for(traits: Collection[TraitName] = _DEFAULT_TRAITS) -> dict[str, str]:
    """The declarative trait mapping (trait path → Auth0 field) matching the built schema.

    For example ``("email", "name")`` gives ``{"email": "email", "name.first":
    "given_name", "name.last": "family_name"}``.

    .. versionadded:: 0.1.0
    """
    unknown = set(traits) - set(_TRAIT_ORDER)
    if unknown:
        raise SchemaError(f"unknown trait(s): {', '.join(sorted(unknown))}")
    mapping: dict[str, str] = {}
    for trait in _TRAIT_ORDER:
        if trait in traits:
            mapping.update(_TRAIT_SOURCES[trait])
    return mapping


def trait_mapping_for_schema(schema: Mapping[str, Any]) -> dict[str, str]:
    """The declarative trait mapping that fills a schema's identifier traits.

    Each of the top-level string traits ``email``, ``username`` and ``phone`` the
    schema has is filled from its Auth0 field (``email``, ``username``,
    ``phone_number``), as :func:`trait_mapping_for` does; other traits are left to the
    caller. A schema with none of the three gives ``{"email": "email"}``, the default.

    For example the schema :func:`suggest_identity_schema` builds for an export with
    email, SMS and username users gives ``{"email": "email", "username": "username",
    "phone": "phone_number"}``.

    .. versionadded:: 0.1.0
    """
    props = schema.get("properties")
    traits = props.get("traits") if isinstance(props, Mapping) else None
    children = traits.get("properties") if isinstance(traits, Mapping) else None
    mapping: dict[str, str] = {}
    if isinstance(children, Mapping):
        for trait in _IDENTIFIERS:
            node = children.get(trait)
            if isinstance(node, Mapping) and node.get("type") in ("string", None):
                mapping.update(_TRAIT_SOURCES[trait])
    return mapping or dict(_TRAIT_SOURCES["email"])


def preset_schema(schema_id: str) -> dict[str, Any] | None:
    """The schema of an Ory preset this library knows, or None.

    ``preset://email`` gives :func:`build_identity_schema` with its defaults, which
    accepts the same traits as Ory Network's preset.

    .. versionadded:: 0.1.0
    """
    if schema_id == PRESET_EMAIL:
        return build_identity_schema()
    return None


# -- suggesting from an export -------------------------------------------------------------------


@frozen
class SchemaSuggestion:
    """The identity schema that covers an export's users, and the counts behind it.

    Attributes:
        schema: The identity schema (a JSON-ready dict, as :func:`build_identity_schema`
            gives).
        users: How many readable users the export holds.
        with_email: Users with an email.
        with_phone: Users with a phone number (Auth0's ``phone_number``).
        with_username: Users with a username.
        without_identifier: Users with none of the three: no schema can cover them
            (a social-only user without email, for example).
        email_passwordless: Users of Auth0's email passwordless connection (``email|…``):
            the email is then also a one-time-code identifier.
        phone_verified: Users with a phone number Auth0 marks verified (``phone_verified``).
        unreadable: Records that could not be read (not counted in *users*).

    .. versionadded:: 0.1.0
    """

    schema: Mapping[str, Any] = field(repr=False)
    users: int
    with_email: int
    with_phone: int
    with_username: int
    without_identifier: int
    email_passwordless: int
    phone_verified: int
    unreadable: int


def _has_text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def suggest_identity_schema(
    users: Iterable[Auth0User | UnreadableRecord],
) -> SchemaSuggestion:
    """Suggest the Ory identity schema that covers every user of an export.

    Reads *users* once, keeping counts only (memory stays bounded whatever the export's
    size). The schema (built by :func:`build_identity_schema`) has a trait for each
    identifier some user has: ``email``, ``username`` (Auth0's ``username``) and
    ``phone`` (Auth0's ``phone_number``, E.164), each with its Ory extensions; the email
    is also a one-time-code identifier when the export has email-passwordless users.
    Its ``required`` rule is one every user with an identifier meets: ``required: [x]``
    when every such user has *x* (the first of email, username, phone), otherwise
    ``required: []`` and an ``anyOf`` asking for at least one of the identifiers.

    An export of database users that all have an email gives exactly
    ``build_identity_schema()``, the equivalent of ``preset://email``.

    Args:
        users: The export's records, e.g. from :func:`read_users` or a :class:`UsersFile`.

    Returns:
        The schema and the counts behind it.

    Raises:
        SchemaError: No user of the export has an email, phone number or username.

    .. versionadded:: 0.1.0
    """
    total = email = phone = username = none = passwordless = verified = unreadable = 0
    for user in users:
        if isinstance(user, UnreadableRecord):
            unreadable += 1
            continue
        total += 1
        raw = user.raw
        has_email = user.email is not None
        has_phone = _has_text(raw.get("phone_number"))
        has_username = _has_text(raw.get("username"))
        email += has_email
        phone += has_phone
        username += has_username
        passwordless += has_email and user.provider == "email"
        verified += has_phone and raw.get("phone_verified") in (True, "true")  # JSON or CSV
        if not (has_email or has_phone or has_username):
            none += 1
    covered = total - none
    if covered == 0:
        raise SchemaError(
            f"no user of the export has an email, phone number or username "
            f"({total} users read, {unreadable} unreadable records): no identity schema "
            "can hold them"
        )
    counts: dict[TraitName, int] = {"email": email, "username": username, "phone": phone}
    traits = [t for t in _IDENTIFIERS if counts[t]]
    shared = [t for t in traits if counts[t] == covered]
    schema = build_identity_schema(traits, required=shared[:1], code_login=passwordless > 0)
    if not shared:
        schema["properties"]["traits"]["anyOf"] = [{"required": [t]} for t in traits]
    return SchemaSuggestion(
        schema=schema,
        users=total,
        with_email=email,
        with_phone=phone,
        with_username=username,
        without_identifier=none,
        email_passwordless=passwordless,
        phone_verified=verified,
        unreadable=unreadable,
    )


# -- validating ------------------------------------------------------------------------------------


@frozen
class TraitsProblem:
    """Why a traits object does not fit a schema.

    Attributes:
        field: Dotted path of the failing field, e.g. ``"traits.email"`` or
            ``"traits.name.first"`` (``"traits"`` for the object itself).
        reason: What is wrong, e.g. ``"is not a valid email"``. Never the value.

    .. versionadded:: 0.1.0
    """

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


_Check = Callable[[Any, str], Iterator[TraitsProblem]]


@frozen
class TraitsValidator:
    """Checks traits objects against one identity schema.

    Build it once with :meth:`from_schema` and call :meth:`problems` per record.

    .. versionadded:: 0.1.0
    """

    schema: Mapping[str, Any] = field(repr=False)
    compiled: bool
    _check: _Check = field(repr=False, alias="check")

    @classmethod
    def from_schema(cls, schema: Mapping[str, Any]) -> TraitsValidator:
        """Prepare a validator for an identity schema (the whole schema, not its traits part).

        Raises:
            SchemaError: The schema is not an identity schema (no ``properties.traits``)
                or not a valid draft-07 schema.

        .. versionadded:: 0.1.0
        """
        if not isinstance(schema, Mapping):
            raise SchemaError("an identity schema must be a JSON object")
        props = schema.get("properties")
        if not isinstance(props, Mapping) or not isinstance(props.get("traits"), Mapping):
            raise SchemaError("not an identity schema: it has no properties.traits")
        compiled = _compile(schema)
        if compiled is not None:
            return cls(schema=schema, compiled=True, check=compiled)
        return cls(schema=schema, compiled=False, check=_jsonschema_check(schema))

    def problems(self, traits: object) -> tuple[TraitsProblem, ...]:
        """Every problem of *traits* against the schema (empty when it fits).

        .. versionadded:: 0.1.0
        """
        return tuple(self._check({"traits": traits}, ""))

    def first_problem(self, traits: object) -> TraitsProblem | None:
        """The first problem of *traits*, or None when it fits.

        .. versionadded:: 0.1.0
        """
        return next(self._check({"traits": traits}, ""), None)


def schema_traits_problem(
    schema_id: str, validator: TraitsValidator, body: Mapping[str, Any]
) -> str | None:
    """Why Ory would refuse *body*'s traits under the project's schema *schema_id*, or None.

    The first problem, worded as the other invalid-body reasons (the field and what is
    wrong, never the value), naming the schema it was checked against.
    """
    problem = validator.first_problem(body.get("traits"))
    if problem is None:
        return None
    return f"{problem} (schema {schema_id!r} of the Ory project)"


#: How many users of an unknown schema id :class:`UnknownSchema` names.
UNKNOWN_SCHEMA_EXAMPLES = 5


@frozen
class UnknownSchema:
    """A schema id the identity bodies use that the Ory project does not have.

    Ory refuses every identity with such a ``schema_id``; a dry run finds them first.

    Attributes:
        schema_id: The schema id.
        users: How many bodies use it.
        examples: The first of their external ids (at most five).

    .. versionadded:: 0.1.0
    """

    schema_id: str
    users: int
    examples: tuple[str, ...] = ()


@define
class UnknownSchemaTally:
    """Counts the users of each unknown schema id, in the order the ids are met (private)."""

    _users: dict[str, int] = field(factory=dict)
    _examples: dict[str, list[str]] = field(factory=dict)

    def add(self, schema_id: str, external_id: str) -> None:
        """Count one more user of the unknown *schema_id*."""
        self._users[schema_id] = self._users.get(schema_id, 0) + 1
        examples = self._examples.setdefault(schema_id, [])
        if len(examples) < UNKNOWN_SCHEMA_EXAMPLES:
            examples.append(external_id)

    def result(self) -> tuple[UnknownSchema, ...]:
        """The unknown schema ids with their users."""
        return tuple(
            UnknownSchema(sid, users, tuple(self._examples[sid]))
            for sid, users in self._users.items()
        )


def droppable_trait(schema: Mapping[str, Any], problem: TraitsProblem) -> str | None:
    """The optional trait to leave out so that *problem* goes away, or None (private).

    The deepest part of the problem's path that the schema declares and does not require
    (``"name.last"`` when ``last`` is optional in ``name``; ``"name"`` when ``first`` is
    required in an optional ``name``). None when the problem is a missing required trait,
    a trait the schema does not have, or every part of the path is required.
    """
    if problem.reason in ("is required", "is not allowed by the schema"):
        return None
    parts = problem.field.split(".")
    if parts[0] != "traits" or len(parts) < 2:
        return None
    props = schema.get("properties")
    node = props.get("traits") if isinstance(props, Mapping) else None
    best = None
    for i, part in enumerate(parts[1:], start=2):
        if not isinstance(node, Mapping):
            break
        children = node.get("properties")
        if not isinstance(children, Mapping) or part not in children:
            break
        required = node.get("required", ())
        if not (isinstance(required, list) and part in required):
            best = ".".join(parts[1:i])
        node = children[part]
    return best


# Formats, as Ory's Go validator (santhosh-tekuri/jsonschema) checks them.

_ATEXT = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\U0010ffff]"
_LOCAL_RE = re.compile(rf'(?:{_ATEXT}+(?:\.{_ATEXT}+)*|"(?:[^"\\\r\n]|\\[^\r\n])*")')
_LABEL_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_TEL_RE = re.compile(r"\+[1-9][0-9]{6,14}")


def _is_hostname(host: str) -> bool:
    host = host.removesuffix(".")
    if not host or len(host) > 253:
        return False
    return all(_LABEL_RE.fullmatch(label) for label in host.split("."))


_ASCII_ATEXT = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_COMMON_EMAIL_RE = re.compile(
    rf"{_ASCII_ATEXT}+(?:\.{_ASCII_ATEXT}+)*@(?:{_LABEL}\.)*{_LABEL}\.?", re.ASCII
)


def is_email(value: str) -> bool:
    """Whether Ory's schema validator takes *value* as ``format: email``.

    .. versionadded:: 0.1.0
    """
    if len(value) <= 254 and _COMMON_EMAIL_RE.fullmatch(value):
        # The common shape (plain ASCII address); only the lengths are left to check.
        at_index = value.rindex("@")
        return at_index <= 64 and len(value) - at_index - 1 - value.endswith(".") <= 253
    if len(value.encode("utf-8")) > 254:
        return False
    local, at, domain = value.rpartition("@")
    if not at or not local or len(local.encode("utf-8")) > 64:
        return False
    if len(domain) >= 2 and domain[0] == "[" and domain[-1] == "]":
        literal = domain[1:-1]
        try:
            if literal.startswith("IPv6:"):
                ipaddress.IPv6Address(literal[5:])
            else:
                ipaddress.IPv4Address(literal)
        except ValueError:
            return False
    elif not _is_hostname(domain):
        return False
    return _LOCAL_RE.fullmatch(local) is not None


def is_tel(value: str) -> bool:
    """Whether *value* is an E.164 phone number (``+`` and 7 to 15 digits).

    Ory checks ``format: tel`` with libphonenumber, which also knows which numbers
    are assigned; this check is the shape only.

    .. versionadded:: 0.1.0
    """
    return _TEL_RE.fullmatch(value) is not None


_FORMATS: dict[str, Callable[[str], bool]] = {"email": is_email, "tel": is_tel}

_TYPE_NAMES = {
    "string": "a string",
    "object": "an object",
    "boolean": "a boolean",
    "integer": "an integer",
    "number": "a number",
    "array": "an array",
    "null": "null",
}


def _is_type(value: object, type_name: str) -> bool:
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "object":
        return isinstance(value, Mapping)
    if type_name == "boolean":
        return isinstance(value, bool)
    if type_name == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if type_name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if type_name == "array":
        return isinstance(value, list)
    return value is None  # "null"


#: Keywords that only annotate (or are Ory's) and never fail validation.
_ANNOTATIONS = frozenset(
    {"$id", "$schema", "$comment", "title", "description", "examples", "default", _KRATOS}
)
_STRING_KEYWORDS = frozenset({"type", "minLength", "maxLength", "pattern", "format"})
_OBJECT_KEYWORDS = frozenset({"type", "properties", "required", "additionalProperties"})


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _compile(schema: Mapping[str, Any]) -> _Check | None:
    """A fast checker for the common subset of JSON Schema, or None when *schema* is outside it."""
    keys = set(schema) - _ANNOTATIONS
    type_name = schema.get("type")
    if not isinstance(type_name, str) or type_name not in _TYPE_NAMES:
        return None
    type_reason = f"must be {_TYPE_NAMES[type_name]}"
    if type_name == "object":
        if keys - _OBJECT_KEYWORDS:
            return None
        props = schema.get("properties", {})
        required = schema.get("required", [])
        additional = schema.get("additionalProperties", True)
        if not isinstance(props, Mapping) or not isinstance(additional, bool):
            return None
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
            return None
        children: dict[str, _Check] = {}
        for name, sub in props.items():
            if not isinstance(sub, Mapping):
                return None
            child = _compile(sub)
            if child is None:
                return None
            children[name] = child
        required_names = tuple(dict.fromkeys(required))

        def check_object(value: Any, path: str) -> Iterator[TraitsProblem]:
            if not isinstance(value, Mapping):
                yield TraitsProblem(path or "traits", type_reason)
                return
            for name in required_names:
                if name not in value:
                    yield TraitsProblem(_join(path, name), "is required")
            for name, item in value.items():
                child = children.get(name)
                if child is not None:
                    yield from child(item, _join(path, name))
                elif not additional:
                    yield TraitsProblem(_join(path, str(name)), "is not allowed by the schema")

        return check_object

    if type_name == "string":
        if keys - _STRING_KEYWORDS:
            return None
        min_length = schema.get("minLength")
        max_length = schema.get("maxLength")
        pattern = schema.get("pattern")
        fmt = schema.get("format")
        if fmt is not None and fmt not in _FORMATS:
            return None
        for bound in (min_length, max_length):
            if bound is not None and (not isinstance(bound, int) or isinstance(bound, bool)):
                return None
        if pattern is not None:
            if not isinstance(pattern, str):
                return None
            try:
                regex: re.Pattern[str] | None = re.compile(pattern)
            except re.error:
                return None
        else:
            regex = None
        format_check = _FORMATS[fmt] if fmt is not None else None

        def check_string(value: Any, path: str) -> Iterator[TraitsProblem]:
            if not isinstance(value, str):
                yield TraitsProblem(path, type_reason)
                return
            if min_length is not None and len(value) < min_length:
                yield TraitsProblem(path, f"is shorter than {min_length} characters")
            if max_length is not None and len(value) > max_length:
                yield TraitsProblem(path, f"is longer than {max_length} characters")
            if regex is not None and regex.search(value) is None:
                yield TraitsProblem(path, f"does not match the pattern {pattern!r}")
            if format_check is not None and not format_check(value):
                yield TraitsProblem(path, f"is not a valid {fmt}")

        return check_string

    if keys - {"type"}:
        return None

    def check_scalar(value: Any, path: str) -> Iterator[TraitsProblem]:
        if not _is_type(value, type_name):
            yield TraitsProblem(path, type_reason)

    return check_scalar


def _jsonschema_check(schema: Mapping[str, Any]) -> _Check:
    """A checker built on the jsonschema library, for schemas outside the compiled subset."""
    import jsonschema  # noqa: PLC0415 - only needed for unusual schemas

    try:
        jsonschema.Draft7Validator.check_schema(schema)
    except jsonschema.SchemaError as e:
        where = ".".join(str(p) for p in e.path) or "the schema"
        raise SchemaError(
            f"invalid JSON schema at {where}: {e.validator} {e.validator_value!r}"
        ) from None
    checker = jsonschema.FormatChecker()
    for name, func in _FORMATS.items():
        checker.checks(name)(_only_strings(func))
    validator = jsonschema.Draft7Validator(schema, format_checker=checker)

    def check(instance: Any, path: str) -> Iterator[TraitsProblem]:
        for error in validator.iter_errors(instance):
            yield from _translate(error, path)

    return check


def _only_strings(func: Callable[[str], bool]) -> Callable[[object], bool]:
    """Formats apply to strings only; other types pass (JSON Schema's rule)."""
    return lambda value: not isinstance(value, str) or func(value)


def _translate(error: Any, base: str) -> Iterator[TraitsProblem]:
    """Translate jsonschema errors into problems worded as the compiled checker words them."""
    where = base
    for part in error.absolute_path:
        where = _join(where, str(part))
    keyword = error.validator
    value = error.validator_value
    instance = error.instance
    if keyword == "required" and isinstance(instance, Mapping):
        for name in value:
            if name not in instance:
                yield TraitsProblem(_join(where, name), "is required")
        return
    if keyword == "additionalProperties" and isinstance(instance, Mapping):
        known = set(error.schema.get("properties", {}))
        patterns = [re.compile(p) for p in error.schema.get("patternProperties", {})]
        for name in instance:
            if name not in known and not any(p.search(name) for p in patterns):
                yield TraitsProblem(_join(where, str(name)), "is not allowed by the schema")
        return
    where = where or "traits"
    if keyword == "type":
        names = value if isinstance(value, list) else [value]
        yield TraitsProblem(
            where, "must be " + " or ".join(_TYPE_NAMES.get(str(n), str(n)) for n in names)
        )
    elif keyword == "minLength":
        yield TraitsProblem(where, f"is shorter than {value} characters")
    elif keyword == "maxLength":
        yield TraitsProblem(where, f"is longer than {value} characters")
    elif keyword == "pattern":
        yield TraitsProblem(where, f"does not match the pattern {value!r}")
    elif keyword == "format":
        yield TraitsProblem(where, f"is not a valid {value}")
    elif keyword == "enum":
        yield TraitsProblem(where, "is not one of the allowed values")
    else:
        yield TraitsProblem(where, f"fails the schema's {keyword!r} rule")


# -- applying ------------------------------------------------------------------------------------


def _canonical_json(schema: Mapping[str, Any]) -> bytes:
    return json.dumps(schema, ensure_ascii=False, separators=(",", ":"), sort_keys=False).encode()


def schema_url(schema: Mapping[str, Any]) -> str:
    """The ``base64://…`` URL Ory's configuration takes for an inline schema.

    .. versionadded:: 0.1.0
    """
    return "base64://" + base64.b64encode(_canonical_json(schema)).decode("ascii")


_SCHEMA_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}")


def _check_schema_id(schema_id: str) -> None:
    if not _SCHEMA_ID_RE.fullmatch(schema_id) or schema_id.startswith("preset://"):
        raise SchemaError(
            f"invalid schema id {schema_id!r}: use letters, digits, '.', '_', '-', ':' or '/' "
            "(and not a preset:// id)"
        )


def ory_patch_identity_config_command(
    project_id: str, schema_id: str, schema: Mapping[str, Any], *, make_default: bool = True
) -> str:
    """The ``ory patch identity-config`` command of Ory's guide for this schema.

    Beware, as in Ory's guide: ``--replace '/identity/schemas=[…]'`` replaces *every*
    schema of the project. :func:`plan_schema_patch` adds one instead.

    .. versionadded:: 0.1.0
    """
    _check_schema_id(schema_id)
    entry = json.dumps({"id": schema_id, "url": schema_url(schema)}, separators=(",", ":"))
    parts = [f"ory patch identity-config {_shell_quote(project_id)}"]
    if make_default:
        parts.append(
            "--replace " + _shell_quote(f"/identity/default_schema_id={json.dumps(schema_id)}")
        )
    parts.append("--replace " + _shell_quote(f"/identity/schemas=[{entry}]"))
    return " \\\n  ".join(parts)


def _shell_quote(text: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9._:/=@%+-]+", text):
        return text
    return "'" + text.replace("'", "'\"'\"'") + "'"


@frozen
class SchemaPatchPlan:
    """The JSON patch that puts a schema into a project's identity configuration.

    Attributes:
        json_patch: RFC 6902 operations for ``ProjectApi.patch_project`` (empty when
            nothing needs to change).
        schema_added: Whether the schema is new to the project.
        default_changed: Whether the project's default schema changes.

    .. versionadded:: 0.1.0
    """

    json_patch: tuple[Mapping[str, Any], ...]
    schema_added: bool
    default_changed: bool


_IDENTITY = "/services/identity/config/identity"


def plan_schema_patch(
    identity_config: Mapping[str, Any] | None,
    schema_id: str,
    schema: Mapping[str, Any],
    *,
    make_default: bool = True,
) -> SchemaPatchPlan:
    """Plan the patch adding *schema* as *schema_id* to a project's configuration.

    The schema is appended to the project's schemas (the others stay: identities
    that use them keep working). Ory's schemas are immutable: a schema id already in
    the project with other content is refused; with the same content nothing is added.

    Args:
        identity_config: The project's ``services.identity.config`` (as read from the
            project), or None when it has none yet.
        schema_id: The id for the schema (not a ``preset://`` one).
        schema: The identity schema.
        make_default: Also make it the project's ``default_schema_id``.

    Raises:
        SchemaError: Invalid id, or the id is taken by a different schema.

    .. versionadded:: 0.1.0
    """
    _check_schema_id(schema_id)
    url = schema_url(schema)
    identity = (identity_config or {}).get("identity")
    identity = identity if isinstance(identity, Mapping) else {}
    schemas = identity.get("schemas")
    ops: list[Mapping[str, Any]] = []
    entry = {"id": schema_id, "url": url}
    added = True
    if isinstance(schemas, Sequence) and not isinstance(schemas, (str, bytes)):
        for existing in schemas:
            if isinstance(existing, Mapping) and existing.get("id") == schema_id:
                if _same_schema(existing.get("url"), schema):
                    added = False
                    break
                raise SchemaError(
                    f"the project already has a different schema with id {schema_id!r}; "
                    "Ory's schemas are immutable: choose a new id (e.g. add a version suffix)"
                )
        if added:
            ops.append({"op": "add", "path": f"{_IDENTITY}/schemas/-", "value": entry})
    elif not identity:
        ops.append({"op": "add", "path": _IDENTITY, "value": {"schemas": [entry]}})
    else:
        ops.append({"op": "add", "path": f"{_IDENTITY}/schemas", "value": [entry]})
    default_changed = make_default and identity.get("default_schema_id") != schema_id
    if default_changed:
        op = "replace" if "default_schema_id" in identity else "add"
        ops.append({"op": op, "path": f"{_IDENTITY}/default_schema_id", "value": schema_id})
    return SchemaPatchPlan(
        json_patch=tuple(ops), schema_added=added, default_changed=default_changed
    )


def _same_schema(url: object, schema: Mapping[str, Any]) -> bool:
    if not isinstance(url, str) or not url.startswith("base64://"):
        return False
    try:
        existing = json.loads(base64.b64decode(url[len("base64://") :], validate=True))
    except ValueError:
        return False
    return bool(existing == json.loads(_canonical_json(schema)))


# -- the console API's records -------------------------------------------------------------------

#: Ory Network's console API (where ``ProjectApi`` lives).
DEFAULT_CONSOLE_URL = "https://api.console.ory.sh"


@frozen
class ProjectInfo:
    """What the schema step needs from a project.

    Attributes:
        id: The project id.
        workspace_id: Its workspace, when the API says.
        identity_config: ``services.identity.config`` (None when absent).

    .. versionadded:: 0.1.0
    """

    id: str
    workspace_id: str | None
    identity_config: Mapping[str, Any] | None = field(repr=False)


@frozen
class SchemaApplyResult:
    """What :func:`apply_identity_schema` did.

    Attributes:
        project_id: The project.
        schema_id: The schema id.
        schema_added: Whether the schema was added (False: it was already there).
        default_changed: Whether it became the default schema now.
        warnings: Ory's warnings about the patch.

    .. versionadded:: 0.1.0
    """

    project_id: str
    schema_id: str
    schema_added: bool
    default_changed: bool
    warnings: tuple[str, ...] = ()

"""Ory's rules in the core: identifiers, error bodies, batch requests, pages (no SDK, no socket)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from auth0_ory_migrate import RemoteIdentity, normalize_email
from auth0_ory_migrate._core._ory import (
    batch_request,
    error_reason,
    iter_pages,
    normalize_identifier,
)


BCRYPT = "$2b$10$0nfDrwOT.zJxjGWJfOhkxuaXk.OResX5NSyIrYnT5bstE7rgvTngq"


@pytest.mark.parametrize(
    ("value", "normalized"),
    [
        ("  Ada@Example.COM \n", "ada@example.com"),
        ("\uff55\uff53\uff45\uff52@x.com", "user@x.com"),
        ("\ufb01le@x.com", "file@x.com"),
        ("Grace", "grace"),
    ],
)
def test_one_normaliser(value: str, normalized: str) -> None:
    """normalize_email is normalize_identifier: trimmed, NFKC, lower-cased, as Ory compares."""
    assert normalize_identifier(value) == normalized
    assert normalize_email(value) == normalized


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b'{"error": {"code": 409, "status": "Conflict", "reason": "taken", "message": "m"}}',
            (409, "taken"),
        ),
        ('{"error": {"code": 400, "message": "bad"}}', (400, "bad")),
        (b'{"error": {"code": 400, "status": "Bad Request"}}', (400, "Bad Request")),
        (b'{"error": {"code": 500}}', (500, "fallback")),
        ({"code": 409, "reason": "item taken"}, (409, "item taken")),
        ({"error": {"code": 409}}, (409, "fallback")),
        ({"code": "409", "message": "not a number"}, (None, "not a number")),
        (b"<html>gateway</html>", (None, "fallback")),
        (b"", (None, "fallback")),
        (None, (None, "fallback")),
        ("just text", (None, "fallback")),
        (["a", "list"], (None, "fallback")),
    ],
)
def test_error_reason_reads_bodies_and_items(body: Any, expected: tuple[int | None, str]) -> None:
    """One reader: envelopes and bare error objects, JSON text or decoded; reason first."""
    assert error_reason(body, "fallback") == expected


def test_error_reason_never_repeats_a_hash() -> None:
    """A server echoing a password hash in its reason does not leak it."""
    code, reason = error_reason(json.dumps({"error": {"code": 400, "reason": BCRYPT}}), "x")
    assert code == 400
    assert BCRYPT not in reason


def test_batch_request_sends_the_bodies_unchanged() -> None:
    """Each body becomes a create with a fresh UUID patch_id; headers and body stay hidden."""
    bodies: list[dict[str, Any]] = [
        {"external_id": "a", "credentials": {"password": {"config": {"hashed_password": BCRYPT}}}},
        {"external_id": "b"},
    ]
    batch = batch_request(
        bodies, url="https://x.test/admin/identities", headers={"Authorization": "Bearer k"}
    )
    payload = json.loads(batch.body)
    assert [p["create"] for p in payload["identities"]] == bodies
    assert [p["patch_id"] for p in payload["identities"]] == list(batch.patch_ids)
    assert len({uuid.UUID(p) for p in batch.patch_ids}) == 2
    assert batch.method == "PATCH"
    assert BCRYPT not in repr(batch)
    assert "Bearer" not in repr(batch)


def test_iter_pages_stops_at_the_last_page_or_a_loop() -> None:
    """Pages are followed by token until none comes, or one comes back again."""
    one = RemoteIdentity("1", "a", None)
    pages = {None: ([one], "t1"), "t1": ([one], "t2"), "t2": ([one], "t1")}
    asked: list[str | None] = []

    def list_page(token: str | None) -> tuple[list[RemoteIdentity], str | None]:
        asked.append(token)
        return pages[token]

    assert len(list(iter_pages(list_page))) == 3
    assert asked == [None, "t1", "t2"]

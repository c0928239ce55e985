"""Reading Auth0's OpenPGP-encrypted password-hash export directly (``--pgp-key``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from auth0_ory_migrate import InputFileError, PgpDecryption, plan_from_files, read_identities
from auth0_ory_migrate._cli import main
from auth0_ory_migrate._cli.ory import _inputs_digest
from auth0_ory_migrate.exceptions import ConfigurationError
from auth0_ory_migrate.testing import (
    PgpKeyPair,
    auth0_users,
    pgp_encrypt_file,
    pgp_key_pair,
    write_export,
)


pytest.importorskip("pysequoia")


@pytest.fixture(scope="module")
def keys() -> PgpKeyPair:
    """One fresh key pair for the module (generating one takes a moment)."""
    return pgp_key_pair()


@pytest.fixture
def export(tmp_path: Path, keys: PgpKeyPair) -> tuple[Path, Path, Path]:
    """Users, their hashes encrypted to *keys* (binary), and the private key file."""
    files = write_export(tmp_path, auth0_users(n=20, seed=3), mfa_secrets=False)
    assert files.password_hashes is not None
    encrypted = pgp_encrypt_file(files.password_hashes, keys.public_key, tmp_path / "hashes.pgp")
    files.password_hashes.unlink()  # only the encrypted file is left
    key = tmp_path / "private.key"
    key.write_bytes(keys.private_key)
    return files.users, encrypted, key


def _convert(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    out, report = tmp_path / "identities.ndjson", tmp_path / "report.json"
    return CliRunner().invoke(
        main, ["convert", *args, "--out", str(out), "--report", str(report)], env=env
    )


def _hashes_used(tmp_path: Path) -> int:
    with (tmp_path / "identities.ndjson").open("rb") as f:
        return sum(1 for b in read_identities(f, strict=True) if "password" in str(b))


def _key_line(keys: PgpKeyPair) -> str:
    """A line of the armored private key's base64 (key material, were it shown)."""
    line = max(keys.armored_private_key.splitlines(), key=len)
    assert len(line) > 40
    return line


def _assert_refused(result: Result, tmp_path: Path, *secrets: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.output.startswith("error: ")
    assert len(result.output.strip().splitlines()) == 1
    for secret in secrets:
        assert secret not in result.output
    assert not (tmp_path / "identities.ndjson").exists()
    assert not (tmp_path / "report.json").exists()


def test_convert_reads_the_encrypted_hash_file(
    tmp_path: Path, export: tuple[Path, Path, Path]
) -> None:
    """``--password-hashes x.pgp --pgp-key K`` imports the hashes, as the decrypted file would."""
    users, encrypted, key = export
    before = set(tmp_path.iterdir())
    result = _convert(
        tmp_path, "--users", str(users), "--password-hashes", str(encrypted), "--pgp-key", str(key)
    )
    assert result.exit_code == 0, result.output
    assert _hashes_used(tmp_path) > 0
    # No plaintext copy anywhere beside the outputs.
    assert set(tmp_path.iterdir()) - before == {
        tmp_path / "identities.ndjson",
        tmp_path / "report.json",
    }


def test_migrate_takes_the_same_options() -> None:
    """``migrate`` reads its inputs as ``convert`` does: the key options included."""
    result = CliRunner().invoke(main, ["migrate", "--help"])
    assert "--pgp-key" in result.output
    assert "--pgp-passphrase-env" in result.output


def test_an_armored_key_and_an_armored_file_are_read(tmp_path: Path, keys: PgpKeyPair) -> None:
    """Both the key and the message may be ASCII-armored."""
    files = write_export(tmp_path, auth0_users(n=10, seed=4), mfa_secrets=False)
    assert files.password_hashes is not None
    encrypted = pgp_encrypt_file(
        files.password_hashes, keys.public_key, tmp_path / "hashes.asc", armor=True
    )
    assert encrypted.read_bytes().startswith(b"-----BEGIN PGP MESSAGE")
    key = tmp_path / "private.asc"
    key.write_text(keys.armored_private_key)
    plain = plan_from_files(files.users, password_hashes=files.password_hashes)
    plan = plan_from_files(
        files.users,
        password_hashes=encrypted,
        password_hashes_decryption=PgpDecryption.from_key_file(key),
    )
    assert plan.password_hashes is not None
    assert plain.password_hashes is not None
    assert plan.password_hashes.entries == plain.password_hashes.entries


def test_a_protected_key_needs_its_passphrase_from_the_environment(
    tmp_path: Path,
) -> None:
    """The passphrase is read from the variable named by ``--pgp-passphrase-env``."""
    keys = pgp_key_pair(protected=True)
    assert keys.passphrase is not None
    files = write_export(tmp_path, auth0_users(n=10, seed=5), mfa_secrets=False)
    assert files.password_hashes is not None
    encrypted = pgp_encrypt_file(files.password_hashes, keys.public_key, tmp_path / "h.pgp")
    key = tmp_path / "private.key"
    key.write_bytes(keys.private_key)
    args = ["--users", str(files.users), "--password-hashes", str(encrypted), "--pgp-key", str(key)]
    result = _convert(tmp_path, *args)
    _assert_refused(result, tmp_path)
    assert "passphrase" in result.output
    result = _convert(
        tmp_path,
        *args,
        "--pgp-passphrase-env",
        "HASH_KEY_PASSPHRASE",
        env={"HASH_KEY_PASSPHRASE": "not it"},
    )
    _assert_refused(result, tmp_path, "not it")
    result = _convert(
        tmp_path,
        *args,
        "--pgp-passphrase-env",
        "HASH_KEY_PASSPHRASE",
        env={"HASH_KEY_PASSPHRASE": keys.passphrase},
    )
    assert result.exit_code == 0, result.output
    assert keys.passphrase not in result.output
    assert _hashes_used(tmp_path) > 0


def test_an_unset_passphrase_variable_is_refused(
    tmp_path: Path, export: tuple[Path, Path, Path]
) -> None:
    """Naming a variable that is not set is a mistake, said as such."""
    users, encrypted, key = export
    result = _convert(
        tmp_path,
        *("--users", str(users), "--password-hashes", str(encrypted), "--pgp-key", str(key)),
        *("--pgp-passphrase-env", "NO_SUCH_VARIABLE_SET"),
        env={"NO_SUCH_VARIABLE_SET": None},  # type: ignore[dict-item]
    )
    _assert_refused(result, tmp_path)
    assert "NO_SUCH_VARIABLE_SET" in result.output


def test_there_is_no_passphrase_option() -> None:
    """A passphrase on the command line would be seen by every user of the machine."""
    result = CliRunner().invoke(main, ["convert", "--help"])
    assert "--pgp-passphrase-env" in result.output
    assert "--pgp-passphrase " not in result.output
    assert "--pgp-passphrase\n" not in result.output


def test_a_file_encrypted_to_another_key_is_refused(
    tmp_path: Path, export: tuple[Path, Path, Path]
) -> None:
    """The wrong private key: one clear error, exit 2, nothing written, no key material."""
    users, encrypted, _ = export
    other = pgp_key_pair()
    key = tmp_path / "other.key"
    key.write_bytes(other.private_key)
    result = _convert(
        tmp_path, "--users", str(users), "--password-hashes", str(encrypted), "--pgp-key", str(key)
    )
    _assert_refused(result, tmp_path, _key_line(other))
    assert "not encrypted to this key" in result.output


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_damaged_file_is_refused(
    tmp_path: Path, export: tuple[Path, Path, Path], damage: str
) -> None:
    """A truncated or altered message is refused whole, even though its start decrypts."""
    users, encrypted, key = export
    data = bytearray(encrypted.read_bytes())
    if damage == "truncate":
        del data[len(data) * 3 // 4 :]
    else:
        data[len(data) // 2] ^= 0xFF
    encrypted.write_bytes(bytes(data))
    result = _convert(
        tmp_path, "--users", str(users), "--password-hashes", str(encrypted), "--pgp-key", str(key)
    )
    _assert_refused(result, tmp_path)
    assert "damaged" in result.output


@pytest.mark.parametrize("what", ["public", "garbage"])
def test_a_key_file_that_is_no_private_key_is_refused(
    tmp_path: Path, export: tuple[Path, Path, Path], keys: PgpKeyPair, what: str
) -> None:
    """A public key (a common mix-up) or any other file: one clear error, exit 2."""
    users, encrypted, key = export
    key.write_bytes(keys.public_key if what == "public" else b"not a key\n")
    result = _convert(
        tmp_path, "--users", str(users), "--password-hashes", str(encrypted), "--pgp-key", str(key)
    )
    _assert_refused(result, tmp_path)
    assert "private key" in result.output


def test_pgp_key_without_password_hashes_is_refused(
    tmp_path: Path, export: tuple[Path, Path, Path]
) -> None:
    """``--pgp-key`` alone decrypts nothing: a mistake, said before anything is read."""
    users, _, key = export
    result = _convert(tmp_path, "--users", str(users), "--pgp-key", str(key))
    _assert_refused(result, tmp_path)
    assert "--password-hashes" in result.output


def test_the_decryption_record_shows_no_key_material(tmp_path: Path) -> None:
    """Neither the key nor the passphrase is in the record's repr."""
    keys = pgp_key_pair(protected=True)
    assert keys.passphrase is not None
    key = tmp_path / "k.asc"
    key.write_bytes(keys.private_key)
    decryption = PgpDecryption.from_key_file(key, passphrase=keys.passphrase)
    for shown in (repr(decryption), str(decryption), repr(keys)):
        assert keys.passphrase not in shown
        assert "PRIVATE KEY" not in shown
        assert _key_line(keys) not in shown


def test_library_errors_name_the_problem(tmp_path: Path, export: tuple[Path, Path, Path]) -> None:
    """Library users get the same errors: a key problem, then a file problem."""
    users, encrypted, _ = export
    bad = tmp_path / "bad.key"
    bad.write_bytes(b"nope")
    with pytest.raises(ConfigurationError, match="private key"):
        PgpDecryption.from_key_file(bad)
    other = tmp_path / "other.key"
    other.write_bytes(pgp_key_pair().private_key)
    with pytest.raises(InputFileError, match="not encrypted to this key"):
        plan_from_files(
            users,
            password_hashes=encrypted,
            password_hashes_decryption=PgpDecryption.from_key_file(other),
        )


def test_the_encrypted_file_read_without_a_key_says_how(
    tmp_path: Path, export: tuple[Path, Path, Path]
) -> None:
    """Without ``--pgp-key`` the encrypted file is refused, naming the option."""
    users, encrypted, _ = export
    result = _convert(tmp_path, "--users", str(users), "--password-hashes", str(encrypted))
    _assert_refused(result, tmp_path)
    assert "OpenPGP" in result.output


def test_decrypted_text_is_what_was_encrypted(tmp_path: Path, keys: PgpKeyPair) -> None:
    """The stream yields the plaintext byte for byte (many pipe buffers' worth)."""
    plain = tmp_path / "plain.ndjson"
    line = json.dumps({"_id": {"$oid": "x" * 24}, "passwordHash": "$2b$10$" + "a" * 53})
    plain.write_text((line + "\n") * 20000)
    encrypted = pgp_encrypt_file(plain, keys.public_key, tmp_path / "p.pgp")
    key = tmp_path / "k"
    key.write_bytes(keys.private_key)
    with PgpDecryption.from_key_file(key).open(encrypted) as f:
        assert f.read() == plain.read_bytes()


def test_migrate_resume_digest_leaves_the_key_out(tmp_path: Path) -> None:
    """The resume digest of migrate ignores the key file and its passphrase variable."""
    hashes = tmp_path / "hashes.json.pgp"
    hashes.write_bytes(b"encrypted")
    (tmp_path / "a.key").write_bytes(b"key one")
    (tmp_path / "b.key").write_bytes(b"key two")
    one = {"hashes_path": hashes, "pgp_key": tmp_path / "a.key", "pgp_passphrase_env": "A"}
    two = {"hashes_path": hashes, "pgp_key": tmp_path / "b.key", "pgp_passphrase_env": "B"}
    before = _inputs_digest(one)
    assert _inputs_digest(two) == before
    hashes.write_bytes(b"another export")
    assert _inputs_digest(one) != before

"""The house plan: which folder may import what, a complete public API, a docstring that runs."""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import re
import shutil
import subprocess
import sys
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

import auth0_ory_migrate


PACKAGE = Path(auth0_ory_migrate.__file__).parent
ROOT = PACKAGE.parent
NAME = "auth0_ory_migrate"

#: Modules the pure core must never import, not even for type checking.
CORE_FORBIDDEN = frozenset(
    {
        "auth0",
        "ory_client",
        "requests",
        "httpx",
        "urllib3",
        "pydantic",
        "threading",
        "multiprocessing",
        "subprocess",
        "socket",
    }
)

#: Folder (first private part under the package) -> the parts of the package it may import.
#: ``"exceptions"`` and ``"typing"`` are the public leaf modules every folder may use.
ALLOWED = {
    "_core": {"_core", "exceptions"},
    "_auth0": {"_core", "exceptions", "typing", "_auth0", "_runtime._files", "_runtime._retrying"},
    "_ory": {"_core", "exceptions", "typing", "_ory"},
    "_runtime": {"_core", "exceptions", "typing", "_runtime"},
}

#: The modules whose names are the public API.
PUBLIC_MODULES = (
    NAME,
    f"{NAME}.exceptions",
    f"{NAME}.typing",
    f"{NAME}.testing",
    f"{NAME}.testing.strategies",
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """Every module *path* imports, anywhere in the file (type-only imports included), absolute."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield node.lineno, target
            # `from . import _json`: the names may be modules too.
            for alias in node.names:
                yield node.lineno, f"{target}.{alias.name}"


def _files(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


def _part_of_package(target: str) -> str | None:
    """``auth0_ory_migrate._core._plan`` -> ``_core._plan``; None outside the package."""
    if target == NAME:
        return ""
    if not target.startswith(NAME + "."):
        return None
    return target[len(NAME) + 1 :]


def _is_module(dotted: str) -> bool:
    path = ROOT / dotted.replace(".", "/")
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def test_core_imports_no_sdk_network_thread_or_process_module() -> None:
    """No module under _core imports an SDK, an HTTP client, threads, processes or sockets."""
    bad = [
        f"{path.relative_to(ROOT)}:{line}: {target}"
        for path in _files("_core")
        for line, target in _imports(path)
        if target.split(".")[0] in CORE_FORBIDDEN
    ]
    assert bad == []


def test_core_import_check_sees_relative_lazy_and_type_only_imports(tmp_path: Path) -> None:
    """The AST walk finds imports inside functions and under TYPE_CHECKING, too."""
    source = tmp_path / NAME / "_core" / "_x.py"
    source.parent.mkdir(parents=True)
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import requests\n"
        "def f():\n    import threading\n    from socket import socket\n"
    )
    global ROOT  # noqa: PLW0603 - pointed at the fake tree for this one check
    saved, ROOT = ROOT, tmp_path
    try:
        found = {t for _, t in _imports(source)}
    finally:
        ROOT = saved
    assert {"requests", "threading", "socket"} <= found


@pytest.mark.parametrize("folder", sorted(ALLOWED))
def test_dependencies_point_one_way(folder: str) -> None:
    """Each folder imports only the parts of the package it may (core <- adapters, runtime)."""
    allowed = ALLOWED[folder]
    bad = []
    for path in _files(folder):
        for line, target in _imports(path):
            part = _part_of_package(target)
            if part is None or (part and not _is_module(f"{NAME}.{part}")):
                continue  # outside the package, or a name imported from a package module
            if part == "" or not any(part == a or part.startswith(a + ".") for a in allowed):
                bad.append(f"{path.relative_to(ROOT)}:{line}: {target}")
    assert bad == []


def test_cli_imports_only_public_names() -> None:
    """The command line is a composition of the public API (and its own modules)."""
    public = {NAME, f"{NAME}.exceptions", f"{NAME}.typing"}
    bad = []
    for path in _files("_cli"):
        for line, target in _imports(path):
            part = _part_of_package(target)
            if part is None or target in public or part.startswith("_cli"):
                continue
            if not _is_module(target):
                continue  # a name imported from a public module
            bad.append(f"{path.relative_to(ROOT)}:{line}: {target}")
    assert bad == []


def test_engine_does_not_import_the_ory_adapter_or_sdk() -> None:
    """The import engine depends on typing.IdentityAdmin, not on OryAdmin or ory_client."""
    engine = PACKAGE / "_runtime" / "_engine.py"
    targets = {t for _, t in _imports(engine)}
    assert not {t for t in targets if t.startswith((f"{NAME}._ory", "ory_client"))}


# -- the public API is complete ---------------------------------------------------------------


def _public_objects() -> Iterator[tuple[str, Any]]:
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            yield f"{module_name}.{name}", getattr(module, name)


def _public_types() -> set[int]:
    return {id(obj) for _, obj in _public_objects()}


def _type_checking_names(module: types.ModuleType) -> dict[str, Any]:
    """The names *module* imports under ``if TYPE_CHECKING:`` (absent at run time)."""
    if not getattr(module, "__file__", None):
        return {}
    tree = ast.parse(Path(module.__file__).read_text())  # type: ignore[arg-type]
    names: dict[str, Any] = {"__package__": module.__package__, "__name__": module.__name__}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in (
            "TYPE_CHECKING",
            "typing.TYPE_CHECKING",
        ):
            imports: list[ast.stmt] = [
                n for n in node.body if isinstance(n, (ast.Import, ast.ImportFrom))
            ]
            exec(compile(ast.Module(imports, []), module.__name__, "exec"), names)  # noqa: S102
    return names


def _namespace(obj: Any) -> dict[str, Any]:
    """Names an annotation of *obj* may use: its module's (type-checking ones too), then others'."""
    names: dict[str, Any] = {}
    for module_name, module in list(sys.modules.items()):
        if module_name.startswith(NAME) and module is not None:
            names.update(vars(module))
    module = sys.modules[obj.__module__]
    names.update(_type_checking_names(module))
    names.update(vars(module))
    return names


def _hints(obj: Any, owner: Any = None) -> dict[str, Any]:
    target = owner if owner is not None else obj
    try:
        return typing.get_type_hints(obj, globalns=_namespace(target))
    except TypeError:
        return {}


def _signature_parts(qualname: str, obj: Any) -> Iterator[tuple[str, Any]]:
    """(where, annotation) of every public callable and class member."""
    if inspect.isclass(obj):
        if attrs.has(obj):
            for a in attrs.fields(obj):
                if not a.name.startswith("_"):
                    yield f"{qualname}.{a.name}", _hints(obj).get(a.name)
        for name in dir(obj):
            if name.startswith("_") and name != "__init__":
                continue
            if name == "__init__" and attrs.has(obj):
                continue
            raw = inspect.getattr_static(obj, name, None)
            function = raw.__func__ if isinstance(raw, (classmethod, staticmethod)) else raw
            if isinstance(function, property):
                function = function.fget
            if inspect.isfunction(function) and function.__module__.startswith(NAME):
                for where, hint in _hints(function, owner=function).items():
                    yield f"{qualname}.{name}({where})", hint
    elif inspect.isfunction(obj):
        for where, hint in _hints(obj).items():
            yield f"{qualname}({where})", hint


def _own_types(hint: Any) -> Iterator[type]:
    """The classes of this package that an annotation mentions."""
    if hint is None:
        return
    if inspect.isclass(hint) and typing.get_origin(hint) is None:
        if hint.__module__.startswith(NAME):
            yield hint
        return
    for arg in typing.get_args(hint):
        if isinstance(arg, list):
            for a in arg:
                yield from _own_types(a)
        else:
            yield from _own_types(arg)
    origin = typing.get_origin(hint)
    if isinstance(origin, type) and origin.__module__.startswith(NAME):
        yield origin


def test_every_type_in_a_public_signature_is_public() -> None:
    """Walk __all__ of the public modules: every class of ours in an annotation is public too."""
    public = _public_types()
    private = sorted(
        f"{where}: {t.__module__}.{t.__qualname__}"
        for qualname, obj in _public_objects()
        for where, hint in _signature_parts(qualname, obj)
        for t in _own_types(hint)
        if id(t) not in public
    )
    assert private == []


def test_public_api_walk_sees_private_types() -> None:
    """The walk above does find a private class in a signature (it is not vacuous)."""

    class _Hidden:
        pass

    def f(x):  # type: ignore[no-untyped-def]  # pragma: no cover - only annotated
        return [x]

    f.__annotations__ = {"x": _Hidden, "return": list[_Hidden]}
    f.__module__ = NAME
    _Hidden.__module__ = NAME
    found = [t for _, hint in _hints(f).items() for t in _own_types(hint)]
    assert _Hidden in found


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_all_is_sorted_and_complete(module_name: str) -> None:
    """Each public module's __all__ is sorted (constants, classes, functions) and resolves."""
    module = importlib.import_module(module_name)

    def kind(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert list(module.__all__) == sorted(module.__all__, key=kind)
    for name in module.__all__:
        assert getattr(module, name) is not None


def test_every_error_class_lives_in_exceptions() -> None:
    """The library's public errors are defined in exceptions.py; all derive from one base."""
    from auth0_ory_migrate import exceptions

    errors = [
        (qualname, obj)
        for qualname, obj in _public_objects()
        if inspect.isclass(obj) and issubclass(obj, BaseException)
    ]
    assert errors
    for qualname, error in errors:
        assert issubclass(error, exceptions.Auth0OryMigrateError), qualname
        if not qualname.startswith(f"{NAME}.testing."):  # the test servers' own (Ory's) errors
            assert error.__module__ == exceptions.__name__, qualname
    assert sorted(exceptions.__all__) == sorted(
        name
        for name, obj in vars(exceptions).items()
        if inspect.isclass(obj) and issubclass(obj, BaseException) and not name.startswith("_")
    )


# -- the module docstring runs as written ------------------------------------------------------


def _docstring_example() -> str:
    doc = auth0_ory_migrate.__doc__ or ""
    block = re.search(r"::\n\n((?:    .*\n|\n)+)", doc)
    assert block is not None, "no code block in the module docstring"
    lines = block.group(1).splitlines()
    return "\n".join(line[4:] for line in lines) + "\n"


@pytest.mark.slow
def test_module_docstring_example_runs_as_written(tmp_path: Path) -> None:
    """auth0_ory_migrate's docstring example runs unchanged on the examples/ files."""
    for name in ("auth0-users.ndjson", "auth0-password-hashes.json"):
        shutil.copy(ROOT / "examples" / name, tmp_path / name)
    script = tmp_path / "example.py"
    script.write_text(_docstring_example())
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "users read:" in done.stdout
    written = tmp_path / "identities.ndjson"
    assert written.stat().st_mode & 0o777 == 0o600
    assert written.read_bytes().count(b"\n") > 0


def test_protocols_are_runtime_checkable_collections() -> None:
    """typing.py holds Protocols (structural types), not concrete classes."""
    from auth0_ory_migrate import typing as public_typing

    protocols = [
        getattr(public_typing, name)
        for name in public_typing.__all__
        if inspect.isclass(getattr(public_typing, name))
    ]
    assert protocols
    for protocol in protocols:
        assert getattr(protocol, "_is_protocol", False), protocol


def test_tests_import_public_names_from_public_modules() -> None:
    """A test reaches a private module only for a private unit that has no public face."""
    public: dict[str, Any] = {}
    for qualname, obj in _public_objects():
        public.setdefault(qualname.rpartition(".")[2], obj)
    bad = []
    for path in sorted((ROOT / "tests").glob("*.py")) + sorted((ROOT / "benchmarks").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or not node.module:
                continue
            part = _part_of_package(node.module)
            if not part or not part.startswith("_"):
                continue
            module = importlib.import_module(node.module)
            for alias in node.names:
                obj = getattr(module, alias.name, None)
                if alias.name in public and public[alias.name] is obj:
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: {alias.name}")
    assert bad == []


def test_api_reference_names_every_public_name() -> None:
    """docs/api.md mentions every name of the public modules (the reference is complete)."""
    text = (ROOT / "docs" / "api.md").read_text()
    missing = [
        f"{module_name}.{name}"
        for module_name in PUBLIC_MODULES[:3]
        for name in importlib.import_module(module_name).__all__
        if not re.search(rf"\b{re.escape(name)}\b", text)
    ]
    assert missing == []

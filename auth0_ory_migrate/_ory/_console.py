"""Applying the identity schema to an Ory Network project (adapter over ``ory_client.ProjectApi``).

Project configuration lives behind Ory's console API and takes a *workspace* API key, a
different key and host from the identity calls. :class:`OryConsole` converts the SDK's
errors into :class:`OryConsoleError` at the boundary; :func:`apply_identity_schema`
reads the project, plans the patch with the pure :func:`plan_schema_patch` and sends it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import ory_client
import pydantic
import urllib3
from attrs import define, field
from ory_client.exceptions import ApiException, OpenApiException

from .._core._schema import (
    DEFAULT_CONSOLE_URL,
    ProjectInfo,
    SchemaApplyResult,
    plan_schema_patch,
)
from ..exceptions import OryConsoleError, SchemaError


__all__ = ["OryConsole", "apply_identity_schema"]


T = TypeVar("T")


@define
class OryConsole:
    """A thin adapter over ``ory_client.ProjectApi`` with a workspace API key.

    Use :meth:`connect`; close it (or use it as a context manager) when done.

    .. versionadded:: 0.1.0
    """

    api: ory_client.ProjectApi = field(repr=False)
    url: str
    timeout: float = 30.0

    @classmethod
    def connect(
        cls, api_key: str, *, url: str = DEFAULT_CONSOLE_URL, timeout: float = 30.0
    ) -> OryConsole:
        """Make a client for the console API at *url* with a workspace API key.

        .. versionadded:: 0.1.0
        """
        if not api_key:
            raise OryConsoleError("a workspace API key is required (ORY_WORKSPACE_API_KEY)")
        config = ory_client.Configuration(
            host=url.rstrip("/"), access_token=api_key, ignore_operation_servers=True, retries=2
        )
        client = ory_client.ApiClient(config)
        return cls(api=ory_client.ProjectApi(client), url=url.rstrip("/"), timeout=timeout)

    def close(self) -> None:
        """Release the HTTP connections.

        .. versionadded:: 0.1.0
        """
        self.api.api_client.rest_client.pool_manager.clear()

    def __enter__(self) -> OryConsole:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, what: str, func: Callable[[], T]) -> T:
        try:
            return func()
        except ApiException as e:
            status = int(e.status) if e.status is not None else None
            if status in (401, 403):
                msg = f"{what}: the workspace API key was refused (HTTP {status})"
            elif status == 404:
                msg = f"{what}: not found (HTTP 404) — check the project id"
            else:
                msg = f"{what}: the Ory console API answered HTTP {status}"
            raise OryConsoleError(msg, status) from e
        except urllib3.exceptions.HTTPError as e:
            raise OryConsoleError(f"{what}: cannot reach the Ory console API at {self.url}") from e
        except (OpenApiException, pydantic.ValidationError) as e:
            raise OryConsoleError(f"{what}: unexpected answer from the Ory console API") from e

    def get_project(self, project_id: str) -> ProjectInfo:
        """Read a project's id, workspace and identity configuration.

        .. versionadded:: 0.1.0
        """
        project = self._call(
            f"reading project {project_id}",
            lambda: self.api.get_project(project_id, _request_timeout=self.timeout),
        )
        identity = project.services.identity
        return ProjectInfo(
            id=str(project.id),
            workspace_id=project.workspace_id,
            identity_config=identity.config if identity is not None else None,
        )

    def patch_project(
        self, project_id: str, json_patch: Sequence[Mapping[str, Any]]
    ) -> tuple[str, ...]:
        """Apply RFC 6902 operations to a project's configuration; return Ory's warnings.

        .. versionadded:: 0.1.0
        """
        ops = [
            ory_client.JsonPatch(op=op["op"], path=op["path"], value=op.get("value"))
            for op in json_patch
        ]
        result = self._call(
            f"patching project {project_id}",
            lambda: self.api.patch_project(project_id, ops, _request_timeout=self.timeout),
        )
        return tuple(w.message or f"warning {w.code}" for w in result.warnings)

    def create_organization(self, project_id: str, label: str, domains: Sequence[str] = ()) -> str:
        """Create an Ory organization (B2B) in a project; return its id.

        Raises:
            OryConsoleError: The API refused (409: a domain is another organization's) or
                failed.

        .. versionadded:: 0.1.0
        """
        body = ory_client.OrganizationBody(label=label, domains=list(domains))
        created = self._call(
            f"creating organization {label!r} in project {project_id}",
            lambda: self.api.create_organization(project_id, body, _request_timeout=self.timeout),
        )
        return str(created.id)

    def list_organizations(self, project_id: str) -> list[tuple[str, str, tuple[str, ...]]]:
        """Every Ory organization of a project: ``(id, label, domains)``, page after page.

        .. versionadded:: 0.1.0
        """
        found: list[tuple[str, str, tuple[str, ...]]] = []
        token: str | None = None
        while True:
            page = self._call(
                f"listing the organizations of project {project_id}",
                lambda t=token: self.api.list_organizations(  # type: ignore[misc]
                    project_id, page_size=1000, page_token=t, _request_timeout=self.timeout
                ),
            )
            found.extend((str(o.id), o.label, tuple(o.domains)) for o in page.organizations)
            if not page.has_next_page or not page.next_page_token:
                return found
            token = page.next_page_token

    def delete_organization(self, project_id: str, organization_id: str) -> bool:
        """Delete an Ory organization; ``False`` when it was not there (404).

        .. versionadded:: 0.1.0
        """
        try:
            self._call(
                f"deleting organization {organization_id} of project {project_id}",
                lambda: self.api.delete_organization(
                    project_id, organization_id, _request_timeout=self.timeout
                ),
            )
        except OryConsoleError as e:
            if e.status == 404:
                return False
            raise
        return True


def apply_identity_schema(
    console: OryConsole,
    project_id: str,
    schema_id: str,
    schema: Mapping[str, Any],
    *,
    workspace_id: str | None = None,
    make_default: bool = True,
) -> SchemaApplyResult:
    """Add *schema* to a project as *schema_id* (and make it the default).

    The project's other schemas are kept. Running it again changes nothing.

    Args:
        console: The console API client.
        project_id: The Ory Network project.
        schema_id: The id under which to add the schema.
        schema: The identity schema.
        workspace_id: When given, the project must belong to this workspace.
        make_default: Also make it the project's default schema.

    Raises:
        OryConsoleError: The API refused or failed.
        SchemaError: The id is taken by another schema, or the project is not in
            the workspace.

    .. versionadded:: 0.1.0
    """
    project = console.get_project(project_id)
    if workspace_id and project.workspace_id and project.workspace_id != workspace_id:
        raise SchemaError(f"project {project_id} is not in workspace {workspace_id}")
    plan = plan_schema_patch(project.identity_config, schema_id, schema, make_default=make_default)
    warnings: tuple[str, ...] = ()
    if plan.json_patch:
        warnings = console.patch_project(project_id, plan.json_patch)
    return SchemaApplyResult(
        project_id=project_id,
        schema_id=schema_id,
        schema_added=plan.schema_added,
        default_changed=plan.default_changed,
        warnings=warnings,
    )

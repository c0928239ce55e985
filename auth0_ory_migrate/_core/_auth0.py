"""Where an Auth0 tenant answers: the one reading of an Auth0 domain (pure).

The exporter, the password-migration hook and both of their commands read the tenant's
domain with :func:`parse_domain`: https, or plain http to this machine only (the test
servers of :mod:`auth0_ory_migrate.testing`). Tokens, client secrets and end users'
passwords never travel unencrypted to another host.
"""

from __future__ import annotations

import ipaddress
from typing import Literal
from urllib.parse import urlsplit

from attrs import frozen

from ..exceptions import ConfigurationError


__all__ = ["ManagementEndpoint", "is_loopback_host", "parse_domain"]


def is_loopback_host(host: str) -> bool:
    """Whether *host* is this machine (``localhost``, ``127.0.0.0/8``, ``::1``).

    .. versionadded:: 0.1.0
    """
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@frozen
class ManagementEndpoint:
    """Where a tenant answers: its Management API (``/api/v2``) and Authentication API.

    Attributes:
        scheme: ``https`` (``http`` only for a loopback host, e.g. a local test server).
        netloc: Host and optional port, e.g. ``acme.eu.auth0.com``: what auth0-python
            calls the domain.

    .. versionadded:: 0.1.0
    """

    scheme: Literal["http", "https"]
    netloc: str

    @property
    def host(self) -> str:
        """The host name without the port."""
        return urlsplit(f"//{self.netloc}").hostname or self.netloc

    @property
    def base_url(self) -> str:
        """The Management API v2 base URL, ``{scheme}://{netloc}/api/v2``."""
        return f"{self.scheme}://{self.netloc}/api/v2"

    @property
    def audience(self) -> str:
        """The Management API audience a client-credentials token is asked for."""
        return f"https://{self.netloc}/api/v2/"


def parse_domain(domain: str) -> ManagementEndpoint:
    """Read an Auth0 domain: a bare tenant domain (https) or a URL (http only on loopback).

    ``acme.eu.auth0.com``, ``https://acme.eu.auth0.com``, ``https://acme.eu.auth0.com/`` and
    ``http://127.0.0.1:8080`` are accepted; a path other than ``/`` or ``/api/v2``, a query,
    credentials in the URL and plain http to another host are refused.

    Raises:
        ConfigurationError: The domain cannot be used (the message never repeats
            credentials or a query).

    .. versionadded:: 0.1.0
    """
    text = domain.strip()
    if not text:
        raise ConfigurationError("the Auth0 domain is empty (e.g. acme.eu.auth0.com)")
    has_scheme = "://" in text
    parts = urlsplit(text if has_scheme else f"https://{text}")
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ConfigurationError(f"the Auth0 domain must be https, not {scheme}")
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError("the Auth0 domain must not carry credentials")
    if parts.query or parts.fragment or parts.path.rstrip("/") not in ("", "/api/v2"):
        raise ConfigurationError(
            "the Auth0 domain must be a host name (acme.eu.auth0.com) or a URL without a path"
        )
    host = parts.hostname
    if not host:
        raise ConfigurationError(f"no host name in the Auth0 domain {text!r}")
    try:
        port = parts.port
    except ValueError as e:
        raise ConfigurationError(f"bad port in the Auth0 domain {text!r}") from e
    if scheme == "http" and not is_loopback_host(host):
        raise ConfigurationError(
            f"refusing plain http to {host}: tokens, client secrets and passwords would travel "
            "unencrypted (http is only allowed for a loopback address such as 127.0.0.1)"
        )
    shown_host = f"[{host}]" if ":" in host else host
    netloc = f"{shown_host}:{port}" if port is not None else shown_host
    return ManagementEndpoint("http" if scheme == "http" else "https", netloc)

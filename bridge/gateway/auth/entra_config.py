"""Which Entra ID app registration the bridge trusts (ENTRA_* settings): its tenant, client id, authority and roles.

Apart from `bridge.gateway.auth.entra`, which checks the tokens: the settings
and the process read this at start-up without loading PyJWT and `cryptography`,
which only a bridge with CLIENT_AUTH=entra needs.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.config.table import ENTRA_AUTHORITY

V1_ISSUER_HOST = "https://sts.windows.net"


@dataclass(frozen=True, slots=True)
class EntraConfig:
    tenant_id: str
    """The directory (tenant) id, a GUID: tokens must carry it as `tid` and in their issuer."""
    client_id: str
    """The application (client) id of the bridge's app registration: the tokens' audience."""
    authority: str = ENTRA_AUTHORITY.default_value
    required_role: str | None = None
    """An app role every person must have (403 otherwise); None: any user of the tenant."""
    automation_role: str | None = None
    """The app role that lets an application call with its own token; None: applications are refused."""

    @property
    def issuer(self) -> str:
        """The issuer of v2.0 tokens (and of the OpenID configuration)."""
        return f"{self.authority.rstrip('/')}/{self.tenant_id}/v2.0"

    @property
    def issuers(self) -> tuple[str, str]:
        """Accepted issuers: v2.0, and v1.0 (the Security Token Service's, the same for every authority host)."""
        return (self.issuer, f"{V1_ISSUER_HOST}/{self.tenant_id}/")

    @property
    def audiences(self) -> tuple[str, str]:
        return (self.client_id, f"api://{self.client_id}")

    @property
    def openid_configuration_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def token_command(self) -> str:
        """What a user runs to get a token (Claude Code's apiKeyHelper)."""
        return f"az account get-access-token --resource api://{self.client_id} --query accessToken -o tsv"

"""How the bridge proves itself to Entra ID at /login without a secret: its managed identity's token, trusted by
the app registration through a federated identity credential (infra/entra-login.bicep), sent as the client
assertion.  The managed identity endpoint is the stand-in of tests/support/fake_identity.py (App Service's
protocol, as azure-identity's ManagedIdentityCredential calls it); the Entra stand-in trusts exactly the tokens
it issued (what the federated credential's issuer, subject and audience check in Entra ID).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bridge.gateway.login.entra_client import ASSERTION_TYPE
from bridge.gateway.login.errors import PageError
from bridge.gateway.login.rows import MemoryRows
from tests.support.fake_azure import FakeAzure
from tests.support.fake_entra import FakeEntra, new_user
from tests.support.fake_identity import FakeIdentity
from tests.support.serving import running
from tests.test_login_attacks import BASE, Clock, approved, service

pytestmark = pytest.mark.anyio


@pytest.fixture
def identity(fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeIdentity]:
    served = FakeIdentity(fake_azure)
    with running(served):
        for name, value in served.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AZURE_CLIENT_ID", "00000000-0000-0000-0000-00000000c11d")
        yield served


def without_secret(entra: FakeEntra) -> FakeEntra:
    entra.redirect_uris.add(BASE + "/oauth/callback")
    return entra


async def test_the_managed_identity_signs_the_bridge_in_to_entra(entra: FakeEntra, identity: FakeIdentity) -> None:
    idp = without_secret(entra)
    idp.trusts_assertion = lambda assertion: assertion in identity.issued
    instance = service(idp, MemoryRows(), Clock(), federated=True)
    person = new_user("Bridge.User")
    grant = await approved(instance, idp, person)
    tokens = await instance.poll(grant["device_code"])
    assert (await instance.caller(tokens["access_token"])).user_id == person.object_id
    redeemed = idp.token_requests[-1]
    assert redeemed["client_assertion_type"] == ASSERTION_TYPE and "client_secret" not in redeemed
    assert redeemed["client_assertion"] in identity.issued
    assert identity.requests[-1].query["resource"] == "api://AzureADTokenExchange"
    refreshed = await instance.refresh(tokens["refresh_token"])
    assert idp.token_requests[-1]["grant_type"] == "refresh_token" and idp.token_requests[-1]["client_assertion"]
    assert refreshed["access_token"] != tokens["access_token"]
    await instance.entra.aclose()


async def test_an_untrusted_identity_is_the_bridges_misconfiguration(entra: FakeEntra, identity: FakeIdentity) -> None:
    idp = without_secret(entra)
    idp.trusts_assertion = lambda _assertion: False
    instance = service(idp, MemoryRows(), Clock(), federated=True)
    with pytest.raises(PageError) as refused:
        await approved(instance, idp, new_user("Bridge.User"))
    assert refused.value.status == 500 and "credential was refused" in refused.value.message
    assert identity.issued, "the managed identity was asked"
    await instance.entra.aclose()

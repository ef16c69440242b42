"""infra/*.bicep against Azure's published resource models: every property set exists at the Bicep's API version.

tests/support/bicep_model_check.py walks every resource body; tests/support/azure_models.py gives each type's model
from the azure-mgmt-* packages (pinned in requirements-dev.in for the API versions the Bicep
declares). Today's templates must come out clean, and planted faults (each a small edit of the real
Bicep text, fed to the same check) must each fail it with the file, resource and path named:
misspellings at the top and deep down, a property of a newer API version than the Bicep's, and
names reached through variables, loops, conditions, modules and nested child resources.

Excepted, and said so: the Microsoft Graph extension's resources (infra/entra-*.bicep; NO_MODEL says
why), and two API versions no SDK release carries, checked at the nearest older one (NEAREST_OLDER).
What tests/test_infra.py's own evaluator checks (parameters flowing into app settings, both network
modes) stays there.
"""

from __future__ import annotations

from functools import cache

import pytest

from tests.support.azure_models import MODELS, NEAREST_OLDER, NO_MODEL, Object, carried_versions, resource_model
from tests.support.bicep import BICEP_FILES, INFRA
from tests.support.bicep_model_check import Finding, Report, check_project

pytestmark = pytest.mark.slow  # loads Azure's resource models (the azure-mgmt-* packages): seconds of imports

SOURCES = {str(path.relative_to(INFRA)): path.read_text() for path in BICEP_FILES}
GRAPH_EXTENSION_FILES = {"entra-app.bicep", "entra-api.bicep", "entra-login.bicep"}


@cache
def today() -> Report:
    return check_project(SOURCES)


def planted(*edits: tuple[str, str, str]) -> dict[str, str]:
    """The real sources with each (file, old, new) edit made; `old` must occur exactly once."""
    sources = dict(SOURCES)
    for file, old, new in edits:
        assert sources[file].count(old) == 1, f"the planted fault's anchor {old!r} is not in infra/{file} exactly once"
        sources[file] = sources[file].replace(old, new)
    return sources


def nested_in_the_storage_account(child: str) -> tuple[str, str, str]:
    """The edit that declares `child` inside the storage account's body, after its properties."""
    end = "      defaultAction: privateNetworking ? 'Deny' : 'Allow'\n    }\n  }\n}\n"
    return ("storage.bicep", end, f"{end[:-2]}  {child}\n}}\n")


def declared_resources() -> set[tuple[str, str]]:
    report = today()
    return {(file, symbol) for file, symbol, _ in report.resources} | {(file, symbol) for file, symbol, _ in report.excepted}


def test_every_property_the_bicep_sets_exists_in_the_model() -> None:
    report = today()
    assert not report.findings, "properties the models do not have:\n" + "\n".join(map(str, report.findings))
    assert len(report.resources) >= 33, f"only {len(report.resources)} resources checked"
    assert len(report.properties) >= 200, f"only {len(report.properties)} properties checked"


def test_every_resource_declared_is_checked_or_excepted() -> None:
    expected = set()
    for file, text in SOURCES.items():
        for line in text.splitlines():
            if line.startswith("resource ") and " existing" not in line.split("=", 1)[0]:
                expected.add((file, line.split()[1]))
    assert expected <= declared_resources(), f"not walked: {sorted(expected - declared_resources())}"


def test_only_the_graph_extensions_resources_are_excepted() -> None:
    assert all(type_.startswith("Microsoft.Graph/") for type_ in NO_MODEL), "NO_MODEL is for the Graph extension"
    excepted = {file for file, _, _ in today().excepted}
    assert excepted == GRAPH_EXTENSION_FILES
    for file in GRAPH_EXTENSION_FILES:
        assert "extension microsoftGraphV1" in SOURCES[file]


def test_every_type_used_has_its_api_version_pinned() -> None:
    """Each model comes from the pinned release at the Bicep's own version, but for NEAREST_OLDER's two."""
    for (type_, version), (checked, release) in today().versions.items():
        if (type_, version) in NEAREST_OLDER:
            assert checked == NEAREST_OLDER[(type_, version)], type_
        else:
            assert checked == version, f"{type_}@{version} checked at {checked} ({release})"


def test_the_nearest_older_versions_are_still_needed() -> None:
    used = today().versions
    for (type_, version), older in NEAREST_OLDER.items():
        assert (type_, version) in used, f"NEAREST_OLDER names {type_}@{version}, which infra/ no longer declares"
        carried = carried_versions(MODELS[type_].package, type_)
        assert version not in carried, f"{MODELS[type_].distribution} now carries {type_}@{version}: drop it from NEAREST_OLDER"
        assert older in carried and older < version


# ----- planted faults ---------------------------------------------------------------------------------------

SITE_CONFIG = "properties.siteConfig"
PLANTED = [
    pytest.param(
        [("storage.bicep", "  kind: 'StorageV2'", "  knd: 'StorageV2'")],
        ("storage.bicep", "storage", "knd"),
        "no such property in the model (StorageAccountCreateParameters); did you mean kind?",
        id="misspelled-at-the-top",
    ),
    pytest.param(
        [("storage.bicep", "allowSharedKeyAccess: false", "allowSharedKeyAcess: false")],
        ("storage.bicep", "storage", "properties.allowSharedKeyAcess"),
        "did you mean allowSharedKeyAccess?",
        id="misspelled-in-properties",
    ),
    pytest.param(
        [("functionapp.bicep", "perInstanceConcurrency:", "perInstanceConcurency:")],
        ("functionapp.bicep", "app", "properties.functionAppConfig.scaleAndConcurrency.triggers.http.perInstanceConcurency"),
        "did you mean perInstanceConcurrency?",
        id="misspelled-five-levels-down",
    ),
    pytest.param(
        [("monitoring.bicep", "DisableLocalAuth: true", "disableLocalAuth: true")],
        ("monitoring.bicep", "appInsights", "properties.disableLocalAuth"),
        "did you mean DisableLocalAuth?",
        id="wrong-case",
    ),
    pytest.param(
        [("functionapp.bicep", "  priority: 100 + i", "  prority: 100 + i")],
        ("functionapp.bicep", "app", f"{SITE_CONFIG}.ipSecurityRestrictions[].prority"),
        "(set through variable accessRules of functionapp.bicep)",
        id="through-a-variable-built-by-a-loop",
    ),
    pytest.param(
        [("private-endpoint.bicep", "privateDnsZoneId: resourceId", "privateDnsZoneID2: resourceId")],
        ("private-endpoint.bicep", "dnsZoneGroup", "properties.privateDnsZoneConfigs[].properties.privateDnsZoneID2"),
        "no such property in the model (PrivateDnsZoneConfig.properties)",
        id="in-a-loop-inside-a-property",
    ),
    pytest.param(
        [
            (
                "keyvault.bicep",
                "networkAcls: {\n      bypass: privateNetworking ? 'None' : 'AzureServices'\n      defaultAction: privateNetworking ? 'Deny' : 'Allow'\n    }",
                "networkAcls: privateNetworking ? {\n      bypass: 'None'\n      defaultAction: 'Deny'\n    } : {\n      bypass: 'AzureServices'\n      defaultActon: 'Allow'\n    }",
            )
        ],
        ("keyvault.bicep", "vault", "properties.networkAcls.defaultActon"),
        "did you mean defaultAction?",
        id="in-one-branch-of-a-conditional",
    ),
    pytest.param(
        [("keyvault.bicep", "contentType: 'ANTHROPIC_AUTH_TOKEN", "contentTyp: 'ANTHROPIC_AUTH_TOKEN")],
        ("keyvault.bicep", "authTokenSecret", "properties.contentTyp"),
        "did you mean contentType?",
        id="in-a-conditional-child-resource",
    ),
    pytest.param(
        [
            (
                "main.bicep",
                "  sku: modelDeploymentSku\n  capacity: bigModelCapacity",
                "  sku: {\n    name: modelDeploymentSku\n    capacty: bigModelCapacity\n  }",
            ),
            ("openai.bicep", "  sku: {\n    name: d.sku\n    capacity: d.capacity\n  }", "  sku: d.sku"),
        ],
        ("openai.bicep", "modelDeployments", "sku.capacty"),
        "(set through variable bigModelDeployment of main.bicep)",
        id="through-a-module-parameter-and-a-loop-variable",
    ),
    pytest.param(
        [nested_in_the_storage_account("resource queues 'queueServices' = {\n    name: 'default'\n  }")],
        ("storage.bicep", "storage::queues", ""),
        "no model is known for this type",
        id="a-type-nobody-mapped",
    ),
    pytest.param(
        [("functionapp.bicep", "ftpsState: 'Disabled'", "ftpsState: 'Disable'")],
        ("functionapp.bicep", "app", f"{SITE_CONFIG}.ftpsState"),
        "'Disable' is none of the model's values: AllAllowed, Disabled, FtpsOnly",
        id="an-enum-value-misspelled",
    ),
    pytest.param(
        [("functionapp.bicep", "    httpsOnly: true", "    httpsOnly: true\n    defaultHostName: 'bridge.example.com'")],
        ("functionapp.bicep", "app", "properties.defaultHostName"),
        "read-only in the model (Site.properties)",
        id="a-read-only-property",
    ),
    pytest.param(
        [("functionapp.bicep", "minTlsVersion: '1.2'", "minTlsVersion: {\n        value: '1.2'\n      }")],
        ("functionapp.bicep", "app", f"{SITE_CONFIG}.minTlsVersion"),
        "an object, where the model has a string",
        id="an-object-for-a-string",
    ),
    pytest.param(
        [
            (
                "storage.bicep",
                "Microsoft.Storage/storageAccounts@2023-05-01' = {",
                "Microsoft.Storage/storageAccounts@2024-01-01' = {",
            )
        ],
        ("storage.bicep", "storage", ""),
        "azure-mgmt-storage 21.2.1 has no model of Microsoft.Storage/storageAccounts at 2024-01-01",
        id="an-api-version-the-pinned-sdk-lacks",
    ),
]


@pytest.mark.parametrize(("edits", "where", "problem"), PLANTED)
def test_a_planted_fault_fails_the_check(edits: list[tuple[str, str, str]], where: tuple[str, str, str], problem: str) -> None:
    findings = check_project(planted(*edits)).findings
    assert [(f.file, f.resource, f.path) for f in findings] == [where], "\n".join(map(str, findings)) or "no finding"
    assert problem in findings[0].problem, str(findings[0])


def test_a_nested_child_resource_is_checked_against_its_own_type() -> None:
    child = (
        "resource blobs 'blobServices' = {\n    name: 'default'\n    properties: {\n      isVersioningEnabld: true\n    }\n  }"
    )
    [finding] = check_project(planted(nested_in_the_storage_account(child))).findings
    assert finding == Finding(
        "storage.bicep",
        "storage::blobs",
        "Microsoft.Storage/storageAccounts/blobServices@2023-05-01",
        "properties.isVersioningEnabld",
        "no such property in the model (BlobServiceProperties.properties); did you mean isVersioningEnabled?",
    )


def test_a_property_of_a_newer_api_version_fails() -> None:
    """functionAppConfig (Flex Consumption) came with Microsoft.Web 2023-12-01: the same body at 2023-01-01 fails."""
    site = "Microsoft.Web/sites"
    properties = resource_model(site, "2024-04-01").shape.fields["properties"].shape
    assert isinstance(properties, Object) and "functionAppConfig" in properties.fields
    older = ("functionapp.bicep", f"'{site}@2024-04-01'", f"'{site}@2023-01-01'")
    findings = check_project(planted(older)).findings
    where = [(f.file, f.resource, f.type, f.path) for f in findings]
    assert where == [("functionapp.bicep", "app", f"{site}@2023-01-01", "properties.functionAppConfig")], "\n".join(
        map(str, findings)
    )


def test_a_graph_extension_resource_is_excepted_not_checked() -> None:
    edit = ("entra-app.bicep", "  signInAudience:", "  signInAudiense:")
    report = check_project(planted(edit))
    assert not report.findings
    assert ("entra-app.bicep", "app", NO_MODEL["Microsoft.Graph/applications"]) in report.excepted


def test_names_reached_through_module_outputs_maps_and_lambdas() -> None:
    """A small project of its own: an object that arrives through a module output and a map() lambda."""
    sources = {
        "main.bicep": (
            "param names array = [\n  'a'\n]\n"
            "module settings 'settings.bicep' = {\n  name: 'settings'\n}\n"
            "resource st 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  name: 'st'\n  location: 'x'\n"
            "  sku: {\n    name: 'Standard_LRS'\n  }\n  properties: settings.outputs.props\n}\n"
            "resource nsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {\n  name: 'nsg'\n"
            "  properties: {\n    securityRules: map(names, n => {\n      name: n\n      properties: {\n"
            "        priorty: 100\n      }\n    })\n  }\n}\n"
        ),
        "settings.bicep": "output props object = {\n  minimumTlsVersion: 'TLS1_2'\n  allowSharedKeyAcess: false\n}\n",
    }
    found = {(f.resource, f.path) for f in check_project(sources).findings}
    assert found == {("st", "properties.allowSharedKeyAcess"), ("nsg", "properties.securityRules[].properties.priorty")}

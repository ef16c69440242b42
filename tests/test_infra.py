"""Offline checks of the `azd up` deployment: azure.yaml, infra/*.bicep, the hooks, .funcignore.

The Bicep compiler and azd are not available to the test run, so every `.bicep`
file is parsed with pycep-parser and the assertions run on its JSON tree:
resources and API versions, role definition ids, Flex Consumption settings,
every setting the bridge reads (`bridge.config.table.SETTINGS`), Key Vault
references, parameters file <-> main.bicep, module wiring, outputs and hooks.
Both network modes (the default, and VNET_ENABLED=true) are checked by
evaluating the templates' conditions for each (`evaluate`).
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.bicep import (
    BICEP_FILES,
    INFRA,
    app_settings,
    azure_yaml,
    bicep,
    decorator,
    dotted,
    evaluate,
    module,
    one,
    param,
    parameters_file,
    resource_id_of,
    resources,
    resources_of_type,
    role_assignments,
    text,
    unconditional_app_settings,
    unquote,
    unwrap,
    variable,
)
from tests.support.paths import ROOT

try:
    from bridge.config.table import SETTINGS
except ModuleNotFoundError:  # run from another directory: make the project importable
    sys.path.insert(0, str(ROOT))
    from bridge.config.table import SETTINGS

# Built-in role definition ids (identical in every tenant).
COGNITIVE_SERVICES_OPENAI_USER = "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
KEY_VAULT_SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
STORAGE_BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
STORAGE_TABLE_DATA_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"
COST_MANAGEMENT_READER = "72fafb9e-0641-4937-9268-a91bfd8191a3"
KNOWN_ROLES = {
    COST_MANAGEMENT_READER,
    COGNITIVE_SERVICES_OPENAI_USER,
    KEY_VAULT_SECRETS_USER,
    KEY_VAULT_SECRETS_OFFICER,
    STORAGE_BLOB_DATA_OWNER,
    STORAGE_TABLE_DATA_CONTRIBUTOR,
    MONITORING_METRICS_PUBLISHER,
}
# Well-known application ids (identical in every tenant).
AZURE_CLI_APP_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
KNOWN_APPS = {AZURE_CLI_APP_ID, GRAPH_APP_ID}
# Microsoft Graph's delegated OpenID Connect permissions (identical in every tenant): openid, profile, offline_access.
GRAPH_OPENID_SCOPES = {
    "37f7f235-527c-4136-accd-4a02d197296e",
    "14dad69e-099b-42c9-810b-d002981feec1",
    "7427e0e9-2fba-42fe-b0c0-848c9e6a8182",
}

# Oldest API version accepted for each resource type the deployment needs.
MIN_API_VERSIONS = {
    "Microsoft.Resources/resourceGroups": "2022-09-01",
    "Microsoft.ManagedIdentity/userAssignedIdentities": "2023-01-31",
    "Microsoft.Storage/storageAccounts": "2023-05-01",
    "Microsoft.Storage/storageAccounts/blobServices": "2023-05-01",
    "Microsoft.Storage/storageAccounts/blobServices/containers": "2023-05-01",
    "Microsoft.Storage/storageAccounts/tableServices": "2023-05-01",
    "Microsoft.Storage/storageAccounts/tableServices/tables": "2023-05-01",
    "Microsoft.Web/serverfarms": "2024-04-01",
    "Microsoft.Web/sites": "2024-04-01",
    "Microsoft.OperationalInsights/workspaces": "2023-09-01",
    "Microsoft.Insights/components": "2020-02-02",
    "Microsoft.Insights/workbooks": "2022-04-01",
    "Microsoft.Insights/webtests": "2022-06-15",
    "Microsoft.Insights/actionGroups": "2023-01-01",
    "Microsoft.Insights/scheduledQueryRules": "2023-12-01",
    "Microsoft.KeyVault/vaults": "2023-07-01",
    "Microsoft.KeyVault/vaults/secrets": "2023-07-01",
    "Microsoft.CognitiveServices/accounts": "2024-10-01",
    "Microsoft.CognitiveServices/accounts/deployments": "2024-10-01",
    "Microsoft.Authorization/roleAssignments": "2022-04-01",
    "Microsoft.Web/sites/basicPublishingCredentialsPolicies": "2024-04-01",
    "Microsoft.Insights/diagnosticSettings": "2021-05-01-preview",
    "Microsoft.Network/virtualNetworks": "2024-05-01",
    "Microsoft.Network/networkSecurityGroups": "2024-05-01",
    "Microsoft.Network/privateEndpoints": "2024-05-01",
    "Microsoft.Network/privateEndpoints/privateDnsZoneGroups": "2024-05-01",
    "Microsoft.Network/privateDnsZones": "2024-06-01",
    "Microsoft.Network/privateDnsZones/virtualNetworkLinks": "2024-06-01",
    # Microsoft Graph Bicep (infra/bicepconfig.json): the v1.0 endpoint is its only stable version.
    "Microsoft.Graph/applications": "v1.0",
    "Microsoft.Graph/servicePrincipals": "v1.0",
    "Microsoft.Graph/appRoleAssignedTo": "v1.0",
    "Microsoft.Graph/applications/federatedIdentityCredentials": "v1.0",
}

# Azure Monitor has published no stable diagnosticSettings version since 2016-09-01 (which lacks
# logAnalyticsDestinationType); Azure's own Bicep reference documents 2021-05-01-preview.
PREVIEW_ONLY_TYPES = {"Microsoft.Insights/diagnosticSettings"}

# Private DNS zones (Azure public cloud) per private-endpoint sub-resource.
PRIVATE_ENDPOINTS = {
    "openai": ("account", {"privatelink.openai.azure.com", "privatelink.cognitiveservices.azure.com"}),
    "vault": ("vault", {"privatelink.vaultcore.azure.net"}),
    "blob": ("blob", {"privatelink.blob.core.windows.net"}),
    "queue": ("queue", {"privatelink.queue.core.windows.net"}),
    "table": ("table", {"privatelink.table.core.windows.net"}),
}

# Files whose resources exist only with private networking, and the parameters that carry the choice.
PRIVATE_NETWORK_MODULES = {"network.bicep", "private-endpoint.bicep"}
NETWORK_PARAMETERS = {
    "vnetEnabled",
    "privateNetworking",
    "virtualNetworkSubnetId",
    "integrated",
    "allowedIpRanges",
    "allowedIpRangeList",
    "restrictInbound",
    "accessRules",
}

# App settings that Flex Consumption rejects or ignores (runtime and deployment live in functionAppConfig).
FORBIDDEN_FLEX_SETTINGS = {
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_WORKER_RUNTIME_VERSION",
    "FUNCTIONS_EXTENSION_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE",
    "SCM_DO_BUILD_DURING_DEPLOYMENT",
    "ENABLE_ORYX_BUILD",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "WEBSITE_CONTENTSHARE",
    "WEBSITE_CONTENTOVERVNET",
    "WEBSITE_SKIP_CONTENTSHARE_VALIDATION",
    "WEBSITE_NODE_DEFAULT_VERSION",
    "WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT",
    "WEBSITE_USE_PLACEHOLDER",
    "WEBSITE_USE_PLACEHOLDER_DOTNETISOLATED",
    "AzureWebJobsStorage",  # a connection string means shared keys; the host uses AzureWebJobsStorage__* instead
}

# Settings the bridge reads that are about to land in bridge/config/table.py; deployed already.
UPCOMING_BRIDGE_SETTINGS = {
    "BIG_MODEL_API",
    "MIDDLE_MODEL_API",
    "SMALL_MODEL_API",
    "MAX_STREAM_SECONDS",
    "AZURE_CLIENT_ID",
}

# Non-secret settings of bridge.config.table.SETTINGS deliberately not deployed. Empty: all are set.
NOT_DEPLOYED: frozenset[str] = frozenset()

# Secrets that are only deployed for one choice of a parameter.
CONDITIONAL_SECRETS = {"AZURE_OPENAI_API_KEY"}

KEY_VAULT_REFERENCE = re.compile(
    r"^@Microsoft\.KeyVault\("
    r"(SecretUri=(https://[^)\s]+/secrets/[^)\s]+|\$\{[A-Za-z_][\w.]*\}(secrets/[\w$.{}-]+)?)"
    r"|VaultName=[^;)\s]+;SecretName=[^;)\s]+(;SecretVersion=[^;)\s]+)?)\)$"
)


# ----- parsing helpers ---------------------------------------------------------------------------


# ----- every file parses ---------------------------------------------------------------------------


def test_bicep_files_exist() -> None:
    names = {p.name for p in BICEP_FILES}
    for expected in (
        "main.bicep",
        "identity.bicep",
        "storage.bicep",
        "monitoring.bicep",
        "workbook.bicep",
        "alerts.bicep",
        "cost-reader.bicep",
        "keyvault.bicep",
        "openai.bicep",
        "openai-roles.bicep",
        "openai-key-secret.bicep",
        "functionapp.bicep",
        "network.bicep",
        "private-endpoint.bicep",
        "entra-app.bicep",
        "entra-api.bicep",
        "entra-login.bicep",
    ):
        assert expected in names, f"infra/{expected} is missing"


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: str(p.relative_to(INFRA)))
def test_every_bicep_file_parses(path: Path) -> None:
    tree = bicep(str(path.relative_to(INFRA)))
    assert tree.get("resources") or tree.get("modules"), f"{path.name} declares nothing"


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: str(p.relative_to(INFRA)))
def test_no_registry_modules_and_local_modules_exist(path: Path) -> None:
    source = path.read_text()
    assert not re.search(r"""['"](br|ts)[:/]""", source), f"{path.name} uses a registry module; use plain resources"
    for symbol, mod in (bicep(str(path.relative_to(INFRA))).get("modules") or {}).items():
        assert mod["type"] == "local", f"{path.name}: module {symbol} is not a local file"
        assert (path.parent / mod["detail"]["path"]).is_file(), f"{path.name}: module {symbol} points to a missing file"


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: str(p.relative_to(INFRA)))
def test_api_versions_are_current_and_stable(path: Path) -> None:
    for symbol, res in resources(str(path.relative_to(INFRA))).items():
        version = res["api_version"]
        if res["type"] not in PREVIEW_ONLY_TYPES:
            assert "preview" not in version, f"{path.name}: {symbol} uses preview API {version}"
        minimum = MIN_API_VERSIONS.get(res["type"])
        assert minimum is not None, f"{path.name}: {symbol} has a resource type the tests do not know: {res['type']}"
        assert version >= minimum, f"{path.name}: {symbol} uses {res['type']}@{version}, older than {minimum}"


def test_every_needed_resource_type_is_declared() -> None:
    declared = {
        res["type"] for path in BICEP_FILES for res in resources(str(path.relative_to(INFRA))).values() if not res["existing"]
    }
    missing = set(MIN_API_VERSIONS) - declared
    assert not missing, f"resource types never declared: {sorted(missing)}"


# ----- main.bicep, parameters, modules, outputs ------------------------------------------------------


def test_main_is_subscription_scope_and_creates_the_resource_group() -> None:
    assert bicep("main.bicep")["globals"]["scope"]["value"] == "subscription"
    rg = one("main.bicep", "Microsoft.Resources/resourceGroups")
    assert "environmentName" in json.dumps(rg["name"])
    assert "'azd-env-name'" in json.dumps(variable("main.bicep", "tags"))
    for symbol, mod in bicep("main.bicep")["modules"].items():
        scope = unwrap(mod["config"]).get("scope")
        assert scope is not None, f"main.bicep: module {symbol} needs an explicit scope"


def test_every_parameter_in_the_parameters_file_is_declared_in_main() -> None:
    declared = bicep("main.bicep")["parameters"]
    given = parameters_file()
    undeclared = set(given) - set(declared)
    assert not undeclared, f"main.parameters.json sets parameters main.bicep does not declare: {sorted(undeclared)}"
    required = {name for name, p in declared.items() if p["default"] is None}
    assert required <= set(given), f"required parameters not in main.parameters.json: {sorted(required - set(given))}"
    for name, entry in given.items():
        value = entry["value"]
        assert isinstance(value, str) and re.search(r"\$\{[A-Z][A-Z0-9_]*\}", value), (
            f"main.parameters.json: {name} should come from an azd environment variable, got {value!r}"
        )
    assert given["environmentName"]["value"] == "${AZURE_ENV_NAME}"
    assert given["location"]["value"] == "${AZURE_LOCATION}"
    assert given["principalId"]["value"] == "${AZURE_PRINCIPAL_ID}"


def test_module_parameters_and_outputs_match_the_modules() -> None:
    main_source = text("main.bicep")
    modules = bicep("main.bicep")["modules"]
    for symbol, mod in modules.items():
        target = mod["detail"]["path"]
        declared = bicep(target).get("parameters") or {}
        given = unwrap(mod["config"]).get("params") or {}
        unknown = set(given) - set(declared)
        assert not unknown, f"main.bicep passes {sorted(unknown)} to {target}, which does not declare them"
        required = {name for name, p in declared.items() if p["default"] is None}
        assert required <= set(given), f"main.bicep does not pass required {sorted(required - set(given))} to {target}"
        outputs = set(bicep(target).get("outputs") or {})
        for used in re.findall(rf"\b{symbol}\.outputs\.(\w+)", main_source):
            assert used in outputs, f"main.bicep reads {symbol}.outputs.{used}, which {target} does not declare"


def test_outputs_for_azd_and_the_hook() -> None:
    outputs = bicep("main.bicep")["outputs"]
    for name in (
        "AZURE_FUNCTION_URL",
        "AZURE_FUNCTION_APP_NAME",
        "AZURE_KEY_VAULT_NAME",
        "AZURE_OPENAI_ENDPOINT",
        "AZURE_RESOURCE_GROUP",
        "ANTHROPIC_AUTH_TOKEN_SECRET_NAME",
        "BRIDGE_DEPLOYMENTS",
        "CLAUDE_CODE_AUTO_COMPACT_WINDOW",
        "AZURE_VNET_NAME",
        "AZURE_FUNCTION_ALLOWED_IP_RANGES",
    ):
        assert name in outputs, f"main.bicep should output {name}"
    assert outputs["CLAUDE_CODE_AUTO_COMPACT_WINDOW"]["value"] == "defaultContextWindow"
    assert param("main.bicep", "defaultContextWindow")["default"] == 272000
    assert "https://" in json.dumps(bicep("functionapp.bicep")["outputs"]["url"])
    # No secret ever leaves the deployment as an output (azd stores outputs in plain text).
    secret_params = {n for n, p in bicep("main.bicep")["parameters"].items() if decorator(p, "secure")}
    rendered = json.dumps(outputs)
    for name in secret_params | {"authToken"}:
        assert f'"{name}"' not in rendered, f"an output exposes {name}"
    for path in BICEP_FILES:
        assert "listKeys" not in json.dumps(bicep(str(path.relative_to(INFRA))).get("outputs") or {})


# ----- identity, storage, plan, app --------------------------------------------------------------------


def test_user_assigned_identity_is_used_for_everything() -> None:
    identity = one("identity.bicep", "Microsoft.ManagedIdentity/userAssignedIdentities")
    assert identity["name"] == "name"
    site = one("functionapp.bicep", "Microsoft.Web/sites")
    assert site["identity"]["type"] == "UserAssigned"
    assert [unquote(k) for k in site["identity"]["userAssignedIdentities"]] == ["${identityId}"]
    assert site["properties"]["keyVaultReferenceIdentity"] == "identityId"
    auth = site["properties"]["functionAppConfig"]["deployment"]["storage"]["authentication"]
    assert auth == {"type": "UserAssignedIdentity", "userAssignedIdentityResourceId": "identityId"}
    settings = app_settings()
    assert settings["AZURE_CLIENT_ID"] == "identityClientId"
    assert settings["AzureWebJobsStorage__clientId"] == "identityClientId"
    assert "ClientId=${identityClientId}" in settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]


def test_storage_has_no_shared_keys_and_holds_the_deployment_container() -> None:
    account = one("storage.bicep", "Microsoft.Storage/storageAccounts")
    props = account["properties"]
    assert props["allowSharedKeyAccess"] is False
    assert props["allowBlobPublicAccess"] is False
    assert props["minimumTlsVersion"] == "TLS1_2"
    assert props["supportsHttpsTrafficOnly"] is True
    container = one("storage.bicep", "Microsoft.Storage/storageAccounts/blobServices/containers")
    assert container["name"] == "deploymentContainerName"
    assert container["properties"]["publicAccess"] == "None"


def test_host_storage_goes_through_the_identity() -> None:
    settings = app_settings()
    assert settings["AzureWebJobsStorage__accountName"] == "storageAccountName"
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert settings["AzureWebJobsStorage__clientId"] == "identityClientId"


def test_flex_consumption_plan() -> None:
    plan = one("functionapp.bicep", "Microsoft.Web/serverfarms")
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    assert plan["properties"]["reserved"] is True


def test_function_app_is_a_flex_consumption_linux_python_app() -> None:
    site = one("functionapp.bicep", "Microsoft.Web/sites")
    assert site["kind"] == "functionapp,linux"
    tags = site["tags"]["function"]["parameters"]
    assert {unquote(k): v for k, v in tags["arg_2"].items()} == {"azd-service-name": "api"}
    props = site["properties"]
    assert props["httpsOnly"] is True
    assert dotted(props["serverFarmId"]) == "plan.id"
    assert "linuxFxVersion" not in props["siteConfig"], "Flex Consumption sets the runtime in functionAppConfig"
    config = props["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "pythonVersion"}
    storage = config["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert storage["value"] == "${storageBlobEndpoint}${deploymentContainerName}"
    scale = config["scaleAndConcurrency"]
    assert scale["maximumInstanceCount"] == "maximumInstanceCount"
    assert scale["instanceMemoryMB"] == "instanceMemoryMB"
    assert scale["triggers"]["http"]["perInstanceConcurrency"] == "httpPerInstanceConcurrency"
    for file in ("main.bicep", "functionapp.bicep"):
        python = param(file, "pythonVersion")
        assert python["default"] == "3.11"
        assert decorator(python, "allowed") == ["3.11", "3.12"]
        for name in ("instanceMemoryMB", "maximumInstanceCount", "httpPerInstanceConcurrency"):
            assert param(file, name)["type"] == "int"


def test_main_passes_the_flex_parameters_through() -> None:
    given = unwrap(module("main.bicep", "functionApp")["config"])["params"]
    for name in ("pythonVersion", "instanceMemoryMB", "maximumInstanceCount", "httpPerInstanceConcurrency"):
        assert given[name] == name


# ----- app settings --------------------------------------------------------------------------------------


def test_every_setting_the_bridge_reads_is_deployed() -> None:
    settings = app_settings()
    missing = []
    for setting in SETTINGS:
        if "*" in setting.name or not setting.deployed:  # a family such as CUSTOM_HEADER_*, or not for Azure
            continue
        if setting.name in NOT_DEPLOYED:
            continue
        if setting.name not in settings:
            missing.append(setting.name)
    missing += sorted(UPCOMING_BRIDGE_SETTINGS - set(settings))
    assert not missing, f"settings the bridge reads but the Function App does not get: {missing}"


def test_secrets_are_key_vault_references() -> None:
    settings = app_settings()
    secrets = [s.name for s in SETTINGS if s.secret and s.deployed]
    assert "ANTHROPIC_AUTH_TOKEN" in secrets
    for name in secrets:
        assert name in settings, f"secret {name} is not deployed"
        value = settings[name]
        assert isinstance(value, str) and KEY_VAULT_REFERENCE.match(value), (
            f"{name} must be a Key Vault reference @Microsoft.KeyVault(SecretUri=...), got {value!r}"
        )
    always = unconditional_app_settings()
    assert "ANTHROPIC_AUTH_TOKEN" in always
    for name in CONDITIONAL_SECRETS:
        assert name not in always, f"{name} must only be set when the user chose key authentication"


def test_api_key_is_only_set_with_key_auth() -> None:
    key_settings = variable("functionapp.bicep", "apiKeySettings")
    cond = key_settings["operator"]
    assert cond["type"] == "conditional"
    assert cond["operands"]["condition"]["function"]["type"] == "empty"
    assert cond["operands"]["true_value"] == {}
    assert set(cond["operands"]["false_value"]) == {"AZURE_OPENAI_API_KEY"}
    auth = param("main.bicep", "openAiAuthMode")
    assert auth["default"] == "entra"
    assert decorator(auth, "allowed") == ["entra", "key"]
    given = unwrap(module("main.bicep", "functionApp")["config"])["params"]
    uri = given["openAiKeySecretUri"]["operator"]
    assert uri["type"] == "conditional" and uri["operands"]["condition"] == "useOpenAiKey"
    assert uri["operands"]["false_value"] == ""
    assert variable("main.bicep", "useOpenAiKey") == {
        "operator": {"type": "equals", "operands": {"operand_1": "openAiAuthMode", "operand_2": "key"}}
    }
    assert module("main.bicep", "openAiKeySecret")["config"]["condition"] == "useOpenAiKey"


def test_settings_flex_consumption_needs() -> None:
    settings = app_settings()
    assert settings["PYTHON_ENABLE_INIT_INDEXING"] == "1"
    assert settings["APPLICATIONINSIGHTS_CONNECTION_STRING"] == "appInsightsConnectionString"
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"].endswith("Authorization=AAD")
    assert settings["MAX_STREAM_SECONDS"] == {
        "function": {"type": "string", "parameters": {"value_to_convert": "maxStreamSeconds"}}
    }
    main_default = param("main.bicep", "maxStreamSeconds")["default"]
    assert isinstance(main_default, int) and main_default < 230, "streams must end before Azure's ~230 s cut"
    assert param("main.bicep", "requestTimeoutSeconds")["default"] < 230


def test_no_setting_flex_consumption_rejects() -> None:
    names = set(app_settings())
    assert not names & FORBIDDEN_FLEX_SETTINGS, f"Flex Consumption rejects {sorted(names & FORBIDDEN_FLEX_SETTINGS)}"
    for path in BICEP_FILES:
        source = path.read_text()
        for name in FORBIDDEN_FLEX_SETTINGS:
            assert not re.search(rf"(^|[\s{{'\"]){re.escape(name)}'?\s*:", source, re.MULTILINE), f"{path.name} sets {name}"
            assert not re.search(rf"name:\s*'{re.escape(name)}'", source), f"{path.name} sets {name}"


def test_bridge_settings_come_from_main_parameters() -> None:
    given = unwrap(module("main.bicep", "functionApp")["config"])["params"]
    for name in (
        "bigModel",
        "smallModel",
        "bigModelApi",
        "middleModelApi",
        "smallModelApi",
        "openAiApiVersion",
        "maxStreamSeconds",
        "requestTimeoutSeconds",
        "maxTokensLimit",
        "maxRequestBytes",
    ):
        assert given[name] == name, f"functionApp.{name} should be main.bicep's parameter {name}"
    assert given["middleModel"] == "middleDeployment"
    assert dotted(given["openAiEndpoint"]) == "openAiRoles.outputs.endpoint"
    assert dotted(given["authTokenSecretUri"]) == "keyVault.outputs.authTokenSecretUri"
    for api in ("bigModelApi", "middleModelApi", "smallModelApi"):
        assert decorator(param("main.bicep", api), "allowed") == ["", "chat", "responses"]
        assert param("main.bicep", api)["default"] == ""


# ----- monitoring ----------------------------------------------------------------------------------------


def test_application_insights_without_local_auth() -> None:
    appi = one("monitoring.bicep", "Microsoft.Insights/components")
    assert appi["properties"]["DisableLocalAuth"] is True
    assert dotted(appi["properties"]["WorkspaceResourceId"]) == "logAnalytics.id"
    workspace = one("monitoring.bicep", "Microsoft.OperationalInsights/workspaces")
    assert workspace["properties"]["sku"]["name"] == "PerGB2018"


def workbook_views() -> dict[str, str]:
    """Each view of the workbook: its title and its whole KQL (the base query's text joined to the view's own)."""
    views = {}
    for view in variable("workbook.bicep", "views"):
        query = view["query"]
        if isinstance(query, str):
            kql = variable("workbook.bicep", query)
        else:
            assert query["function"]["type"] == "concat", view["title"]
            kql = "".join(variable("workbook.bicep", arg) for arg in query["function"]["parameters"].values())
        views[unquote(view["title"])] = kql
    return views


def test_the_workbook_queries_the_workspace_for_the_bridges_events() -> None:
    book = one("workbook.bicep", "Microsoft.Insights/workbooks")
    assert book["kind"] == "shared"
    assert book["properties"]["sourceId"] == "appInsightsId"
    assert book["properties"]["serializedData"]["function"]["type"] == "string"
    assert dotted(main_params("workbook")["workspaceId"]) == "monitoring.outputs.logAnalyticsId"
    views = workbook_views()
    assert len(views) >= 10
    base = variable("workbook.bicep", "bridgeRequests")
    assert base.lstrip().startswith("AppEvents") and 'Name == "bridge.request"' in base
    kql = "\n".join(views.values())
    for needed in (
        "by user_name, user_id",  # cost and tokens per person
        "by role",
        "by group_id",
        "by day = bin(TimeGenerated, 1d), deployment",  # per deployment per day
        "1.0 * cached_tokens / input_tokens",  # the prompt-cache hit ratio
        "by deployment, client",
        "percentile(ttft_ms, 95)",  # time to first token
        "by day = bin(TimeGenerated, 1d), kind",  # errors by kind
        'refused == "budget"',  # people over their budget
        'Name == "bridge.reconcile"',  # the bill
    ):
        assert needed in kql, f"no workbook view has {needed!r}"
    assert "'" not in kql, "KQL strings use double quotes"


# ----- Key Vault and the token ---------------------------------------------------------------------------


def test_key_vault_uses_rbac_and_holds_the_token() -> None:
    vault = one("keyvault.bicep", "Microsoft.KeyVault/vaults")
    props = vault["properties"]
    assert props["enableRbacAuthorization"] is True
    assert "accessPolicies" not in props
    assert props["sku"]["name"] == "standard"
    secret = unwrap(resources("keyvault.bicep")["authTokenSecret"]["config"])
    assert secret["parent"] == "vault"
    assert secret["name"] == "authTokenSecretName"
    assert secret["properties"]["value"] == "authToken"
    assert decorator(param("keyvault.bicep", "authToken"), "secure")
    # Versionless, built from the vault: the secret is not declared on every provision, and a rotated token is picked up.
    uri = bicep("keyvault.bicep")["outputs"]["authTokenSecretUri"]["value"]
    assert uri == "${vault.properties.vaultUri}secrets/${authTokenSecretName}"


def test_api_key_secret_comes_from_the_resource_not_from_a_person() -> None:
    secret = one("openai-key-secret.bicep", "Microsoft.KeyVault/vaults/secrets")
    value = secret["properties"]["value"]
    assert value["operator"]["type"] == "property_accessor"
    assert value["operator"]["operands"]["operand_1"]["operator"]["operands"]["func_name"] == "listKeys"
    existing = [r for r in resources("openai-key-secret.bicep").values() if r["type"] == "Microsoft.CognitiveServices/accounts"]
    assert existing and existing[0]["existing"] is True
    scope = existing[0]["config"]["scope"]["function"]
    assert scope["type"] == "resource_group"
    assert scope["parameters"] == {"subscription_id": "openAiSubscriptionId", "resource_group_name": "openAiResourceGroupName"}
    assert variable("main.bicep", "openAiKeySecretName") == "azure-openai-api-key"


def test_token_is_generated_once_and_stays_stable() -> None:
    given = parameters_file()
    assert given["anthropicAuthToken"]["value"] == "${ANTHROPIC_AUTH_TOKEN}"
    # Nothing reads the secret back from the deploying machine (a private vault would refuse it):
    # the vault name from the previous provision says whether the vault already holds the token.
    assert given["provisionedKeyVaultName"]["value"] == "${AZURE_KEY_VAULT_NAME}"
    assert "generatedAuthToken" not in given
    assert "secretOrRandomPassword" not in json.dumps(given)
    assert "AZURE_KEY_VAULT_NAME" in bicep("main.bicep")["outputs"], "azd learns the vault name from this output"
    for name in ("anthropicAuthToken", "generatedAuthToken"):
        assert decorator(param("main.bicep", name), "secure"), f"{name} must be @secure()"
    assert param("main.bicep", "anthropicAuthToken")["default"] == ""
    assert param("main.bicep", "generatedAuthToken")["default"] == {"function": {"type": "new_guid"}}
    token = variable("main.bicep", "authToken")["operator"]
    assert token["type"] == "conditional"
    assert token["operands"]["true_value"] == "generatedAuthToken"
    assert token["operands"]["false_value"] == "anthropicAuthToken"
    kv_params = unwrap(module("main.bicep", "keyVault")["config"])["params"]
    assert kv_params["authToken"] == "authToken"
    assert kv_params["authTokenSecretName"] == "authTokenSecretName"
    assert kv_params["writeAuthToken"] == "writeAuthToken"
    # The deploying user may read the secret (the printed command) and rotate it.
    assert kv_params["principalId"] == "principalId"
    secret = resources("keyvault.bicep")["authTokenSecret"]
    assert secret["config"]["condition"] == "writeAuthToken"

    write = variable("main.bicep", "writeAuthToken")
    this_vault = "kv-abc123"

    def written(chosen: str, provisioned: str) -> bool:
        bindings = {"anthropicAuthToken": chosen, "provisionedKeyVaultName": provisioned, "names.keyVault": this_vault}
        return bool(evaluate(write, bindings))

    assert written("", ""), "first provision (or after azd down): a generated token is written"
    assert not written("", this_vault), "later provisions keep the token in the vault, rotated or not"
    assert written("", "kv-other"), "a new vault (another region or environment) gets a token"
    assert written("my-token", this_vault), "a token the user chose is written on every provision"


# ----- roles -----------------------------------------------------------------------------------------------


def test_role_definition_ids() -> None:
    expected = {
        "storage.bicep": {
            (STORAGE_BLOB_DATA_OWNER, "identityPrincipalId", False),
            (STORAGE_TABLE_DATA_CONTRIBUTOR, "identityPrincipalId", False),
        },
        "monitoring.bicep": {(MONITORING_METRICS_PUBLISHER, "identityPrincipalId", False)},
        "keyvault.bicep": {
            (KEY_VAULT_SECRETS_USER, "identityPrincipalId", False),
            (KEY_VAULT_SECRETS_OFFICER, "principalId", True),
        },
        "openai-roles.bicep": {
            (COGNITIVE_SERVICES_OPENAI_USER, "identityPrincipalId", False),
            (COGNITIVE_SERVICES_OPENAI_USER, "principalId", True),
        },
        "cost-reader.bicep": {(COST_MANAGEMENT_READER, "identityPrincipalId", False)},
    }
    for name, roles in expected.items():
        assert set(role_assignments(name)) == roles, f"{name}: unexpected role assignments"
    for path in BICEP_FILES:
        source = path.read_text()
        for guid in re.findall(r"'([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})'", source):
            if path.name == "workbook.bicep":
                continue  # workbook parameter ids
            assert guid in KNOWN_ROLES | KNOWN_APPS | GRAPH_OPENID_SCOPES, (
                f"{path.name}: {guid} is not a role definition or app id the tests know"
            )


def test_role_assignments_are_idempotent_and_typed() -> None:
    for path in BICEP_FILES:
        name = str(path.relative_to(INFRA))
        for res in resources_of_type(name, "Microsoft.Authorization/roleAssignments"):
            body = unwrap(res["config"])
            assert body["name"]["function"]["type"] == "guid", f"{name}: role assignment names must be guid(...)"
            # Cost Management answers at a resource group's scope, never a resource's: cost-reader.bicep assigns
            # its role to the resource group it is deployed into (no scope property).
            assert "scope" in body or name == "cost-reader.bicep", f"{name}: role assignments are scoped to the resource"
            if body["properties"]["principalId"] == "identityPrincipalId":
                assert body["properties"]["principalType"] == "ServicePrincipal"


def test_openai_roles_are_deployed_where_the_openai_resource_is() -> None:
    roles = module("main.bicep", "openAiRoles")
    body = unwrap(roles["config"])
    assert "condition" not in roles["config"], "roles are needed for both a new and an existing resource"
    scope = body["scope"]["function"]
    assert scope["type"] == "resource_group"
    assert scope["parameters"] == {"subscription_id": "openAiSubscriptionId", "resource_group_name": "openAiResourceGroupName"}
    assert "openAi" in body["dependsOn"] and "rg" in body["dependsOn"]
    sub = variable("main.bicep", "openAiSubscriptionId")["operator"]["operands"]
    rg = variable("main.bicep", "openAiResourceGroupName")["operator"]["operands"]
    assert sub["condition"] == rg["condition"] == "useExistingOpenAi"
    assert sub["true_value"]["operator"]["operands"] == {"operand_1": "existingOpenAiParts", "operand_2": 2}
    assert rg["true_value"]["operator"]["operands"] == {"operand_1": "existingOpenAiParts", "operand_2": 4}
    assert variable("main.bicep", "existingOpenAiParts")["function"]["parameters"] == {
        "input_string": "existingOpenAiResourceId",
        "delimiter": "/",
    }
    account = [r for r in resources("openai-roles.bicep").values() if r["type"] == "Microsoft.CognitiveServices/accounts"]
    assert account and account[0]["existing"] is True


def test_new_openai_resource_with_model_deployments() -> None:
    new = module("main.bicep", "openAi")
    assert new["config"]["condition"] == {"operator": {"type": "not", "operands": {"bool_value": "useExistingOpenAi"}}}
    account = one("openai.bicep", "Microsoft.CognitiveServices/accounts")
    assert account["kind"] == "OpenAI"
    assert account["properties"]["customSubDomainName"] == "name", "Entra ID auth needs a custom subdomain"
    assert account["properties"]["disableLocalAuth"] == {"operator": {"type": "not", "operands": {"bool_value": "allowKeyAuth"}}}
    deployments = resources_of_type("openai.bicep", "Microsoft.CognitiveServices/accounts/deployments")
    assert len(deployments) == 1 and "loop_type" in deployments[0]["config"]
    assert {"type": "batchSize", "argument": 1} in deployments[0]["decorators"]
    body = unwrap(deployments[0]["config"])
    assert dotted(body["sku"]["name"]) == "d.sku" and dotted(body["sku"]["capacity"]) == "d.capacity"
    assert dotted(body["properties"]["model"]["name"]) == "d.model"
    assert dotted(body["properties"]["model"]["version"]) == "d.version"
    for name in (
        "bigModelName",
        "bigModelVersion",
        "bigModelCapacity",
        "smallModelName",
        "smallModelVersion",
        "smallModelCapacity",
        "modelDeploymentSku",
        "existingOpenAiResourceId",
        "openAiLocation",
    ):
        param("main.bicep", name)
    big = variable("main.bicep", "bigModelDeployment")
    assert big == {
        "name": "bigModel",
        "model": "bigModelName",
        "version": "bigModelVersion",
        "sku": "modelDeploymentSku",
        "capacity": "bigModelCapacity",
    }


# ----- network and security, in both modes --------------------------------------------------------------------

PUBLIC, PRIVATE = False, True


def main_params(symbol: str) -> dict[str, Any]:
    return unwrap(module("main.bicep", symbol)["config"])["params"]


def test_network_options_are_azd_settings_with_open_defaults() -> None:
    given = parameters_file()
    for name, (setting, default) in {
        "vnetEnabled": ("VNET_ENABLED", False),
        "vnetAddressPrefix": ("VNET_ADDRESS_PREFIX", "10.0.0.0/16"),
        "allowedIpRanges": ("ALLOWED_IP_RANGES", ""),
        "keyVaultPurgeProtection": ("KEY_VAULT_PURGE_PROTECTION", False),
    }.items():
        assert given[name]["value"] == f"${{{setting}}}", f"main.parameters.json: {name} comes from {setting}"
        assert param("main.bicep", name)["default"] == default, f"{name} defaults to {default!r}"
        assert setting in decorator(param("main.bicep", name), "description"), f"{name}'s description names {setting}"


def test_private_network_resources_exist_only_with_the_option() -> None:
    for path in BICEP_FILES:
        name = str(path.relative_to(INFRA))
        declared = {r["type"] for r in resources(name).values() if not r["existing"]}
        network = {t for t in declared if t.startswith("Microsoft.Network/")}
        if name in PRIVATE_NETWORK_MODULES:
            assert network == declared, f"{name} holds only private-networking resources"
        else:
            assert not network, f"{name} declares network resources {sorted(network)}: they belong in network.bicep"
    deployed = set()
    for symbol, mod in bicep("main.bicep")["modules"].items():
        target = mod["detail"]["path"]
        if target not in PRIVATE_NETWORK_MODULES:
            assert "vnetEnabled" not in json.dumps(mod["config"].get("condition")), f"{symbol} exists in both modes"
            continue
        deployed.add(target)
        config = mod["config"]
        if "loop_type" in config:
            source = config["loop_type"]["detail"]["array_name"]
            assert config["condition"] is None
            for mode, expected in ((PUBLIC, []), (PRIVATE, ["target"])):
                assert evaluate(source, {"vnetEnabled": mode, "privateEndpointTargets": ["target"]}) == expected
        else:
            assert config["condition"] == "vnetEnabled", f"main.bicep deploys {symbol} only with VNET_ENABLED"
    assert deployed == PRIVATE_NETWORK_MODULES


def test_virtual_network_subnets_and_dns_zones() -> None:
    vnet = one("network.bicep", "Microsoft.Network/virtualNetworks")
    assert vnet["properties"]["addressSpace"]["addressPrefixes"] == ["addressPrefix"]
    app, endpoints = vnet["properties"]["subnets"]
    assert (app["name"], endpoints["name"]) == ("appSubnetName", "privateEndpointSubnetName")
    # Flex Consumption integrates with a subnet delegated to Container Apps environments, not to Microsoft.Web.
    delegations = app["properties"]["delegations"]
    assert [d["properties"]["serviceName"] for d in delegations] == ["Microsoft.App/environments"]
    assert "delegations" not in endpoints["properties"]
    for index, subnet in enumerate((app, endpoints)):
        prefix = subnet["properties"]["addressPrefix"]["function"]
        assert prefix == {"type": "cidrSubnet", "parameters": {"arg_1": "addressPrefix", "arg_2": 24, "arg_3": index}}
        assert dotted(subnet["properties"]["networkSecurityGroup"]["id"]) == "securityGroup.id"
    # The app still calls public endpoints (Application Insights ingestion, Entra ID); private endpoints need no egress.
    assert app["properties"]["defaultOutboundAccess"] is True
    assert endpoints["properties"]["defaultOutboundAccess"] is False
    nsg = one("network.bicep", "Microsoft.Network/networkSecurityGroups")
    assert nsg["properties"]["securityRules"] == [], (
        "Azure's default rules: traffic inside the network, no inbound from the internet"
    )
    for type_ in ("Microsoft.Network/privateDnsZones", "Microsoft.Network/privateDnsZones/virtualNetworkLinks"):
        [declared] = resources_of_type("network.bicep", type_)
        assert "dnsZoneNames" in json.dumps(declared["config"]["loop_type"]), f"one {type_} per zone"
        assert unwrap(declared["config"])["location"] == "global"
    link = unwrap(resources_of_type("network.bicep", "Microsoft.Network/privateDnsZones/virtualNetworkLinks")[0]["config"])
    assert link["properties"]["registrationEnabled"] is False
    assert dotted(link["properties"]["virtualNetwork"]["id"]) == "vnet.id"


def test_private_endpoints_cover_every_service_the_app_calls() -> None:
    zones = evaluate(variable("main.bicep", "privateDnsZones"), {})
    ids = {"openAiResourceId": "OPENAI", "keyVaultId": "VAULT", "storageAccountId": "STORAGE"}
    targets = evaluate(variable("main.bicep", "privateEndpointTargets"), {"privateDnsZones": zones, **ids})
    found = {t["service"]: (t["groupId"], set(t["dnsZones"])) for t in targets}
    assert found == PRIVATE_ENDPOINTS
    assert {t["service"]: t["targetId"] for t in targets} == {
        "openai": "OPENAI",
        "vault": "VAULT",
        "blob": "STORAGE",
        "queue": "STORAGE",
        "table": "STORAGE",
    }
    # The network creates every zone an endpoint registers in.
    created = evaluate(main_params("network")["dnsZoneNames"], {"privateDnsZones": zones})
    assert set(created) == set().union(*(z for _, z in PRIVATE_ENDPOINTS.values()))
    for var, type_, name in (
        ("keyVaultId", "Microsoft.KeyVault/vaults", "names.keyVault"),
        ("storageAccountId", "Microsoft.Storage/storageAccounts", "names.storage"),
    ):
        found_type, args = resource_id_of(variable("main.bicep", var))
        assert found_type == type_ and {name, "rg.name"} <= args, f"{var} is the id of this deployment's {type_}"
    # A new Azure OpenAI resource, or the existing one (in any resource group or subscription).
    openai = variable("main.bicep", "openAiResourceId")["operator"]["operands"]
    assert openai["condition"] == "useExistingOpenAi" and openai["true_value"] == "existingOpenAiResourceId"
    found_type, args = resource_id_of(openai["false_value"])
    assert found_type == "Microsoft.CognitiveServices/accounts"
    assert args == {"openAiSubscriptionId", "openAiResourceGroupName", "openAiName"}


def test_private_endpoint_module() -> None:
    endpoint = one("private-endpoint.bicep", "Microsoft.Network/privateEndpoints")
    assert endpoint["properties"]["subnet"] == {"id": "subnetId"}
    [connection] = endpoint["properties"]["privateLinkServiceConnections"]
    assert connection["properties"] == {"privateLinkServiceId": "targetId", "groupIds": ["groupId"]}
    assert "manualPrivateLinkServiceConnections" not in endpoint["properties"]
    group = one("private-endpoint.bicep", "Microsoft.Network/privateEndpoints/privateDnsZoneGroups")
    assert group["parent"] == "endpoint"
    configs = group["properties"]["privateDnsZoneConfigs"]
    assert configs["loop_type"]["detail"] == {"item_name": "zone", "array_name": "dnsZoneNames"}
    zone_id = configs["config"]["properties"]["privateDnsZoneId"]
    assert resource_id_of(zone_id) == ("Microsoft.Network/privateDnsZones", {"zone"})
    # main.bicep: every endpoint in the private-endpoint subnet of the bridge's network, after the services exist.
    loop = module("main.bicep", "privateEndpoints")["config"]
    given = loop["config"]["params"]
    assert given["subnetId"] == "privateEndpointSubnetId"
    assert {k: dotted(v) for k, v in given.items() if k in ("targetId", "groupId", "dnsZoneNames")} == {
        "targetId": "target.targetId",
        "groupId": "target.groupId",
        "dnsZoneNames": "target.dnsZones",
    }
    assert set(loop["config"]["dependsOn"]) >= {"network", "openAi", "keyVault", "storage"}
    network = main_params("network")
    for var, subnet in (("privateEndpointSubnetId", "names.privateEndpointSubnet"), ("appSubnetId", "names.appSubnet")):
        found_type, args = resource_id_of(variable("main.bicep", var))
        assert found_type == "Microsoft.Network/virtualNetworks/subnets" and {"names.vnet", subnet} <= args
    assert dotted(network["name"]) == "names.vnet"
    assert dotted(network["appSubnetName"]) == "names.appSubnet"
    assert dotted(network["privateEndpointSubnetName"]) == "names.privateEndpointSubnet"
    assert network["addressPrefix"] == "vnetAddressPrefix"


@pytest.mark.parametrize("name", ["storage.bicep", "keyvault.bicep", "openai.bicep"])
def test_public_network_access_is_off_only_in_private_mode(name: str) -> None:
    type_ = {
        "storage.bicep": "Microsoft.Storage/storageAccounts",
        "keyvault.bicep": "Microsoft.KeyVault/vaults",
        "openai.bicep": "Microsoft.CognitiveServices/accounts",
    }[name]
    props = one(name, type_)["properties"]
    assert param(name, "privateNetworking")["default"] is False
    for mode, access, default_action in ((PUBLIC, "Enabled", "Allow"), (PRIVATE, "Disabled", "Deny")):
        bindings = {"privateNetworking": mode}
        assert evaluate(props["publicNetworkAccess"], bindings) == access, f"{name}: publicNetworkAccess, private={mode}"
        assert evaluate(props["networkAcls"]["defaultAction"], bindings) == default_action
        if "bypass" in props["networkAcls"]:
            # No exception for 'trusted Azure services' once the resource is private.
            assert evaluate(props["networkAcls"]["bypass"], bindings) == ("None" if mode else "AzureServices")
    symbol = {"storage.bicep": "storage", "keyvault.bicep": "keyVault", "openai.bicep": "openAi"}[name]
    assert main_params(symbol)["privateNetworking"] == "vnetEnabled"


def test_an_existing_openai_resource_keeps_its_own_network_settings() -> None:
    """The owner decides an existing resource's public access; the deployment only references it."""
    for path in BICEP_FILES:
        name = str(path.relative_to(INFRA))
        for symbol, res in resources(name).items():
            if res["type"] == "Microsoft.CognitiveServices/accounts" and not res["existing"]:
                assert name == "openai.bicep", f"{name}: {symbol} would change an Azure OpenAI resource"
    assert module("main.bicep", "openAi")["config"]["condition"]["operator"]["operands"] == {"bool_value": "useExistingOpenAi"}


def test_function_app_network_in_both_modes() -> None:
    site = one("functionapp.bicep", "Microsoft.Web/sites")
    props, config = site["properties"], site["properties"]["siteConfig"]
    integrated = variable("functionapp.bicep", "integrated")
    for subnet, expected in (("", False), ("/subscriptions/s/.../subnets/snet-app", True)):
        assert evaluate(integrated, {"virtualNetworkSubnetId": subnet}) is expected
        bindings = {"integrated": expected, "virtualNetworkSubnetId": subnet}
        assert evaluate(props["virtualNetworkSubnetId"], bindings) == (subnet or None)
        assert evaluate(config["vnetRouteAllEnabled"], bindings) is expected
    assert param("functionapp.bicep", "virtualNetworkSubnetId")["default"] == ""
    given = main_params("functionApp")
    for mode, expected in ((PUBLIC, ""), (PRIVATE, "APP_SUBNET")):
        assert evaluate(given["virtualNetworkSubnetId"], {"vnetEnabled": mode, "appSubnetId": "APP_SUBNET"}) == expected
    depends = unwrap(module("main.bicep", "functionApp")["config"])["dependsOn"]
    assert {"network", "privateEndpoints"} <= set(depends), "the app starts once its private endpoints exist"
    # Inbound: the app stays public (Claude Code and Cursor call it), HTTPS and TLS 1.2 only.
    assert props.get("publicNetworkAccess", "Enabled") == "Enabled"
    assert props["httpsOnly"] is True
    assert config["minTlsVersion"] == "1.2" and config["scmMinTlsVersion"] == "1.2"
    assert config["ftpsState"] == "Disabled"


def test_allowed_client_ranges_lock_the_app_and_its_scm_site() -> None:
    normalize = variable("main.bicep", "allowedIpRangeList")
    for given, expected in (
        ("", []),
        ("203.0.113.0/24", ["203.0.113.0/24"]),
        (
            "203.0.113.0/24, 198.51.100.7  2001:db8::/48,2001:db8::1",
            ["203.0.113.0/24", "198.51.100.7/32", "2001:db8::/48", "2001:db8::1/128"],
        ),
    ):
        assert evaluate(normalize, {"allowedIpRanges": given}) == expected, given
    assert main_params("functionApp")["allowedIpRanges"] == "allowedIpRangeList"
    output = bicep("main.bicep")["outputs"]["AZURE_FUNCTION_ALLOWED_IP_RANGES"]["value"]
    assert evaluate(output, {"allowedIpRangeList": ["a/32", "b/24"]}) == "a/32,b/24"

    config = one("functionapp.bicep", "Microsoft.Web/sites")["properties"]["siteConfig"]
    assert config["ipSecurityRestrictions"] == "accessRules"
    rules = variable("functionapp.bicep", "accessRules")
    assert rules["loop_type"]["detail"] == {"item_name": "range", "index_name": "i", "array_name": "allowedIpRanges"}
    assert rules["config"]["ipAddress"] == "range" and rules["config"]["action"] == "Allow"
    assert evaluate(rules["config"]["priority"], {"i": 0}) == 100
    assert evaluate(variable("functionapp.bicep", "restrictInbound"), {"allowedIpRanges": []}) is False
    assert evaluate(variable("functionapp.bicep", "restrictInbound"), {"allowedIpRanges": ["a/32"]}) is True
    for restricted, action in ((False, "Allow"), (True, "Deny")):
        bindings = {"restrictInbound": restricted}
        assert evaluate(config["ipSecurityRestrictionsDefaultAction"], bindings) == action
        assert evaluate(config["scmIpSecurityRestrictionsDefaultAction"], bindings) == action
    assert config["scmIpSecurityRestrictionsUseMain"] is True, "deployments (SCM) come from the same ranges"


def test_publishing_with_basic_credentials_is_off() -> None:
    [policies] = resources_of_type("functionapp.bicep", "Microsoft.Web/sites/basicPublishingCredentialsPolicies")
    config = policies["config"]
    assert config["loop_type"]["detail"]["array_name"] == ["ftp", "scm"]
    assert config["condition"] is None, "always, in both modes"
    assert config["config"]["parent"] == "app"
    assert config["config"]["name"] == "policy"
    assert config["config"]["properties"] == {"allow": False}
    assert {"type": "batchSize", "argument": 1} in policies["decorators"], "one change to the site at a time"


@pytest.mark.parametrize(
    ("name", "target", "category"),
    [("functionapp.bicep", "app", "FunctionAppLogs"), ("keyvault.bicep", "vault", "AuditEvent")],
)
def test_diagnostic_logs_go_to_log_analytics(name: str, target: str, category: str) -> None:
    [setting] = resources_of_type(name, "Microsoft.Insights/diagnosticSettings")
    assert "condition" not in setting["config"], "always, in both modes"
    body = setting["config"]
    assert body["scope"] == target
    assert body["properties"]["workspaceId"] == "logAnalyticsWorkspaceId"
    assert {"category": category, "enabled": True} in body["properties"]["logs"]
    symbol = {"functionapp.bicep": "functionApp", "keyvault.bicep": "keyVault"}[name]
    assert dotted(main_params(symbol)["logAnalyticsWorkspaceId"]) == "monitoring.outputs.logAnalyticsId"


def test_key_vault_purge_protection_is_a_choice() -> None:
    props = one("keyvault.bicep", "Microsoft.KeyVault/vaults")["properties"]
    assert props["enableSoftDelete"] is True
    # The API takes only true and never goes back: off means leaving the property out.
    assert evaluate(props["enablePurgeProtection"], {"purgeProtection": True}) is True
    assert evaluate(props["enablePurgeProtection"], {"purgeProtection": False}) is None
    assert param("keyvault.bicep", "purgeProtection")["default"] is False
    assert main_params("keyVault")["purgeProtection"] == "keyVaultPurgeProtection"


def test_settings_and_roles_are_the_same_in_both_modes() -> None:
    """The network choice changes where traffic flows, never what the app is told or allowed."""
    rendered = json.dumps(app_settings())
    for name in NETWORK_PARAMETERS:
        assert f'"{name}"' not in rendered, f"an app setting depends on {name}"
    for path in BICEP_FILES:
        name = str(path.relative_to(INFRA))
        for res in resources_of_type(name, "Microsoft.Authorization/roleAssignments"):
            condition = json.dumps(res["config"].get("condition"))
            assert not any(n in condition for n in NETWORK_PARAMETERS), f"{name}: a role assignment depends on the network"
    for symbol in ("identity", "monitoring", "storage", "keyVault", "openAiRoles", "functionApp"):
        config = module("main.bicep", symbol)["config"]
        assert "condition" not in config and "loop_type" not in config, f"{symbol} is deployed in both modes"
    roles_scope = unwrap(module("main.bicep", "openAiRoles")["config"])["scope"]
    assert "vnetEnabled" not in json.dumps(roles_scope)


def test_the_configuration_page_documents_every_azd_variable() -> None:
    """Every azd environment setting main.parameters.json reads is in docs/configuration.md's tables."""
    page = (ROOT / "docs" / "configuration.md").read_text()
    # Set by azd itself, or fed back from the previous provision's outputs.
    managed = {
        "AZURE_ENV_NAME",
        "AZURE_PRINCIPAL_ID",
        "AZURE_RESOURCE_GROUP",
        "AZURE_KEY_VAULT_NAME",
        "LOGIN_SIGNING_KEY_SECRET_NAME",
    }
    settings = {var for entry in parameters_file().values() for var in re.findall(r"\$\{([A-Z][A-Z0-9_]*)\}", entry["value"])}
    undocumented = sorted(var for var in settings - managed if f"| `{var}` |" not in page)
    assert not undocumented, f"docs/configuration.md does not document the azd variables {undocumented}"


def test_the_deploy_page_answers_the_security_questions() -> None:
    deploy = (ROOT / "docs" / "deploy.md").read_text()
    security = deploy.split("\n## Security and network\n", 1)[1].split("\n## ", 1)[0]
    for topic in ("What is public, what is private", "Where secrets live", "Who can publish code", "Logs and audit"):
        assert topic in security, f"the security section answers: {topic}"
    for name in ("VNET_ENABLED", "ALLOWED_IP_RANGES", "KEY_VAULT_PURGE_PROTECTION", "privatelink.vaultcore.azure.net"):
        assert name in security


def _deployed_by_default(value: Any) -> str:
    """What `azd up` hands the app for an azd variable left unset: '' when the setting stays unset (an empty
    string, or 0 for the numbers functionapp.bicep passes on as unset), else the default as text."""
    if value in ("", 0, None):
        return ""
    return str(value).lower() if isinstance(value, bool) else str(value)


def test_what_azd_up_deploys_is_each_settings_in_azure() -> None:
    """A setting's row says what `azd up` deploys when that is not the bridge's default (REQUEST_TIMEOUT: 225
    against 600), and main.bicep's parameter defaults say the same: neither can change without the other."""
    parameters = {var: name for name, entry in parameters_file().items() for var in re.findall(r"\$\{(\w+)\}", entry["value"])}
    literal = dict(re.findall(r"^\s+([A-Z][A-Z0-9_]*): '([^'$]*)'$", text("functionapp.bicep"), re.MULTILINE))
    checked = []
    for setting in SETTINGS:
        if setting.name in parameters:
            deployed = _deployed_by_default(param("main.bicep", parameters[setting.name]).get("default"))
        elif setting.name in literal:
            deployed = literal[setting.name]
        else:
            assert not setting.in_azure, f"{setting.name}: in_azure, but `azd up` sets no value of its own"
            continue
        checked.append(setting.name)
        if setting.in_azure:
            assert deployed == setting.in_azure, (
                f"{setting.name}: `azd up` deploys {deployed!r}, its row says {setting.in_azure!r}"
            )
        else:
            assert deployed in ("", setting.default), (
                f"{setting.name}: `azd up` deploys {deployed!r}, not the default {setting.default!r}: say so with in_azure "
                "(and why, in in_azure_note)"
            )
    assert {"REQUEST_TIMEOUT", "MAX_STREAM_SECONDS", "HEARTBEAT_SECONDS", "PERSONAL_KEY_DAYS"} <= set(checked)


# ----- azure.yaml, hooks, .funcignore -------------------------------------------------------------------------


def test_azure_yaml_names_the_function_service() -> None:
    config = azure_yaml()
    assert config["name"] == "claude-azure-bridge"
    api = config["services"]["api"]
    assert api["project"] == "."
    assert api["language"] in ("py", "python")
    assert api["host"] == "function"
    assert config.get("infra", {}).get("path", "infra") == "infra"
    assert config.get("infra", {}).get("module", "main") == "main"


def test_azure_yaml_hooks_exist() -> None:
    hooks = azure_yaml()["hooks"]
    assert set(hooks) >= {"postprovision"}
    shells = {}
    for hook_name, hook in hooks.items():
        for platform in ("posix", "windows"):
            entry = hook[platform]
            path = ROOT / entry["run"]
            assert path.is_file(), f"azure.yaml hook {hook_name}/{platform} runs a missing file: {entry['run']}"
            shells[(hook_name, platform)] = (entry["shell"], path)
    assert shells[("postprovision", "posix")][0] == "sh"
    assert shells[("postprovision", "windows")][0] == "pwsh"
    assert shells[("postprovision", "windows")][1].suffix == ".ps1"


@pytest.mark.parametrize("hook", ["postprovision.sh", "postprovision.ps1"])
def test_hook_prints_the_client_settings_from_outputs(hook: str) -> None:
    source = (INFRA / "hooks" / hook).read_text()
    for needed in ("ANTHROPIC_BASE_URL", "CLAUDE_CODE_AUTO_COMPACT_WINDOW", "apiKeyHelper", "az keyvault secret show", "/v1"):
        assert needed in source, f"{hook} does not print {needed}"
    outputs = set(bicep("main.bicep")["outputs"])
    read = set(re.findall(r"(?:value|Get-AzdValue) '?([A-Z][A-Z0-9_]+)'?", source))
    assert read, f"{hook} reads no azd values"
    assert read <= outputs, f"{hook} reads values main.bicep does not output: {sorted(read - outputs)}"


def run_posix_hook(**outputs: str) -> str:
    sh = shutil.which("sh")
    assert sh is not None
    env = {
        "PATH": "/usr/bin:/bin",
        "AZURE_FUNCTION_URL": "https://func-test.azurewebsites.net",
        "AZURE_FUNCTION_APP_NAME": "func-test",
        "AZURE_KEY_VAULT_NAME": "kv-test",
        "ANTHROPIC_AUTH_TOKEN_SECRET_NAME": "anthropic-auth-token",
        "BRIDGE_DEPLOYMENTS": "gpt-5,gpt-5-mini",
        "CLAUDE_CODE_AUTO_COMPACT_WINDOW": "272000",
        **outputs,
    }
    result = subprocess.run(
        [sh, str(INFRA / "hooks" / "postprovision.sh")], env=env, capture_output=True, text=True, timeout=10, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.process  # the hook runs in sh
@pytest.mark.parametrize(
    "outputs",
    [{}, {"AZURE_VNET_NAME": "vnet-test", "AZURE_FUNCTION_ALLOWED_IP_RANGES": "203.0.113.0/24,198.51.100.7/32"}],
    ids=["default", "private"],
)
def test_posix_hook_prints_the_client_settings(outputs: dict[str, str]) -> None:
    out = run_posix_hook(**outputs)
    assert '"ANTHROPIC_BASE_URL": "https://func-test.azurewebsites.net"' in out
    assert '"CLAUDE_CODE_AUTO_COMPACT_WINDOW": "272000"' in out
    assert "az keyvault secret show --vault-name kv-test --name anthropic-auth-token --query value -o tsv" in out
    assert "https://func-test.azurewebsites.net/v1" in out
    assert "gpt-high,gpt-medium,gpt-low,gpt-minimal,gpt-5,gpt-5-mini" in out
    settings_json = out[out.index("{") : out.index("}\n}") + 3]
    parsed = json.loads(settings_json)
    assert parsed["env"]["ANTHROPIC_BASE_URL"] == "https://func-test.azurewebsites.net"
    assert "Key Vault Secrets Officer" in out, "who may read the token"


@pytest.mark.process  # the hook runs in sh
def test_posix_hook_in_the_default_mode() -> None:
    out = run_posix_hook()
    assert "Reachable:    from any address, with the token" in out
    assert "Network:      public endpoints" in out
    assert "VNET_ENABLED=true makes them private" in out
    assert "private endpoint" not in out


@pytest.mark.process  # the hook runs in sh
def test_posix_hook_in_private_mode_with_allowed_ranges() -> None:
    out = run_posix_hook(AZURE_VNET_NAME="vnet-test", AZURE_FUNCTION_ALLOWED_IP_RANGES="203.0.113.0/24,198.51.100.7/32")
    assert "Network:      private: Azure OpenAI, Key Vault and storage are reached through private endpoints in vnet-test" in out
    assert "Reachable:    only from 203.0.113.0/24, 198.51.100.7/32, deployments too" in out
    assert "Cursor calls from Cursor's servers" in out, "Cursor's requests do not come from the developer's address"
    # The vault is private: say where the printed command works, and what to do elsewhere.
    assert "Key Vault kv-test is private" in out and "privatelink.vaultcore.azure.net" in out
    assert "use it as ANTHROPIC_AUTH_TOKEN (instead of\napiKeyHelper)" in out


@pytest.mark.parametrize("hook", ["postprovision.sh", "postprovision.ps1"])
def test_both_hooks_print_the_same_network_notes(hook: str) -> None:
    source = (INFRA / "hooks" / hook).read_text()
    for needed in (
        "AZURE_VNET_NAME",
        "AZURE_FUNCTION_ALLOWED_IP_RANGES",
        "Reachable:    $reachable",
        "Network:      $network",
        "is private: 'az keyvault secret show' (you have Key Vault Secrets Officer) works",
        "privatelink.vaultcore.azure.net",
        "Cursor calls from Cursor's servers, not from your machine",
        "(ALLOWED_IP_RANGES restricts it)",
        "az account get-access-token --resource api://",
        "/v1/keys",
        "/v1/usage",
        "ENTRA_CLIENT_ID",
        "CLIENT_AUTH",
        "VNET_ENABLED=true makes them private",
    ):
        assert needed in source, f"{hook} does not print {needed!r}"


def _ignored(patterns: list[str], path: str) -> bool:
    """gitignore-style match, enough for the patterns .funcignore uses."""
    parts = path.split("/")
    ignored = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw[1:] if negate else raw
        directory = pattern.endswith("/")
        pattern = pattern.rstrip("/").lstrip("/")
        candidates = ["/".join(parts[: i + 1]) for i in range(len(parts) - (0 if not directory else 1))]
        names = parts[: len(parts) - (1 if directory else 0)]
        if any(fnmatch.fnmatch(c, pattern) for c in candidates) or (
            "/" not in pattern and any(fnmatch.fnmatch(n, pattern) for n in names)
        ):
            ignored = not negate
    return ignored


def test_funcignore_keeps_the_package_small() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".funcignore").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    for path in (
        "tests/test_infra.py",
        "infra/main.bicep",
        "infra/hooks/postprovision.sh",
        ".venv/bin/python",
        "local.settings.json",
        ".azure/dev/.env",
        "bench/run.py",
        "docs/deploy.md",
        "scripts/test",
        "bridge/__pycache__/settings.cpython-311.pyc",
        ".git/config",
        "requirements.in",
        "requirements-dev.txt",
    ):
        assert _ignored(patterns, path), f".funcignore should keep {path} out of the package"
    for path in ("function_app.py", "host.json", "requirements.txt", "bridge/config/table.py", "bridge/__init__.py"):
        assert not _ignored(patterns, path), f".funcignore must not drop {path}"


# ----- the gateway: sign-in with Entra ID (CLIENT_AUTH), the usage table, budgets, in both sign-in modes -----

TOKEN_MODE, ENTRA_MODE = "token", "entra"
GRAPH_FILES = ("entra-app.bicep", "entra-api.bicep", "entra-login.bicep")


def graph_resource(name: str, type_: str) -> dict[str, Any]:
    [found] = [r for r in resources(name).values() if r["type"] == type_]
    return found


def test_sign_in_options_are_azd_settings_with_the_shared_token_as_default() -> None:
    given = parameters_file()
    for name, (setting, default) in {
        "clientAuth": ("CLIENT_AUTH", "token"),
        "entraAppRoleRequired": ("ENTRA_APP_ROLE_REQUIRED", False),
        "personalKeyDays": ("PERSONAL_KEY_DAYS", 30),
        "personalKeySignInDays": ("PERSONAL_KEY_SIGNIN_DAYS", 7),
        "budgetDailyTokens": ("BUDGET_DAILY_TOKENS", ""),
        "budgetMonthlyTokens": ("BUDGET_MONTHLY_TOKENS", ""),
        "budgetOverrides": ("BUDGET_OVERRIDES", ""),
        "budgetDailyUsd": ("BUDGET_DAILY_USD", ""),
        "budgetMonthlyUsd": ("BUDGET_MONTHLY_USD", ""),
        "budgetWarnPercent": ("BUDGET_WARN_PERCENT", ""),
        "prices": ("PRICES", ""),
        "rateLimitRequestsPerMinute": ("RATE_LIMIT_REQUESTS_PER_MINUTE", ""),
        "rateLimitTokensPerMinute": ("RATE_LIMIT_TOKENS_PER_MINUTE", ""),
        "modelPolicy": ("MODEL_POLICY", ""),
    }.items():
        assert given[name]["value"] == f"${{{setting}}}", f"main.parameters.json: {name} comes from {setting}"
        assert param("main.bicep", name)["default"] == default, f"{name} defaults to {default!r}"
        assert setting in decorator(param("main.bicep", name), "description"), f"{name}'s description names {setting}"
    assert decorator(param("main.bicep", "clientAuth"), "allowed") == ["token", "entra"]


def test_the_graph_extension_is_declared_and_configured() -> None:
    config = (INFRA / "bicepconfig.json").read_text()
    parsed = json.loads("\n".join(line for line in config.splitlines() if not line.lstrip().startswith("//")))
    reference = parsed["extensions"]["microsoftGraphV1"]
    assert re.fullmatch(r"br:mcr\.microsoft\.com/bicep/extensions/microsoftgraph/v1\.0:\d+\.\d+\.\d+", reference), (
        "the generally available v1.0 types, a released version"
    )
    for name in GRAPH_FILES:
        assert "microsoftGraphV1" in (bicep(name).get("extensions") or {}), f"{name} declares extension microsoftGraphV1"
    for path in BICEP_FILES:
        if path.name not in GRAPH_FILES:
            assert not any(r["type"].startswith("Microsoft.Graph/") for r in resources(path.name).values()), path.name


def test_the_registration_exposes_a_scope_with_v2_tokens() -> None:
    api = variable("entra-app.bicep", "api")
    assert api["requestedAccessTokenVersion"] == 2
    [scope] = api["oauth2PermissionScopes"]
    assert scope["type"] == "User" and scope["isEnabled"] is True and scope["value"] == "scopeName"
    assert variable("entra-app.bicep", "scopeName") == "user_impersonation"
    assert scope["id"]["function"]["type"] == "guid", "a stable scope id: the same on every provision"
    app = unwrap(graph_resource("entra-app.bicep", "Microsoft.Graph/applications")["config"])
    assert app["uniqueName"] == "uniqueName" and app["signInAudience"] == "AzureADMyOrg"
    assert app["api"] == "api"
    user, admin, automation = app["appRoles"]
    assert user["value"] == "appRole" and user["allowedMemberTypes"] == ["User"]
    assert admin["value"] == "adminRole" and admin["allowedMemberTypes"] == ["User"], "people: ENTRA_ADMIN_ROLE"
    assert automation["value"] == "automationRole" and automation["allowedMemberTypes"] == ["Application"]
    assert len({role["id"]["function"]["parameters"]["extra_string_1"] for role in app["appRoles"]}) == 3, "three ids"
    assert "identifierUris" not in app, "the client id is not known yet: entra-api.bicep sets the URI"
    assert bicep("entra-app.bicep")["outputs"]["clientId"]["value"] == {
        "operator": {"type": "property_accessor", "operands": {"operand_1": "app", "operand_2": "appId"}}
    }


def test_the_registration_has_its_uri_and_pre_authorizes_the_azure_cli() -> None:
    app = unwrap(graph_resource("entra-api.bicep", "Microsoft.Graph/applications")["config"])
    assert app["uniqueName"] == "uniqueName", "the same registration as entra-app.bicep (upsert by uniqueName)"
    assert app["identifierUris"] == ["api://${clientId}"], "az account get-access-token --resource api://<client id>"
    assert variable("entra-api.bicep", "azureCliAppId") == AZURE_CLI_APP_ID
    scopes = [{"id": "scope-1", "value": "user_impersonation"}]
    api = evaluate(
        app["api"], {"api": {"oauth2PermissionScopes": scopes, "requestedAccessTokenVersion": 2}, "azureCliAppId": "CLI"}
    )
    assert api["requestedAccessTokenVersion"] == 2 and api["oauth2PermissionScopes"] == scopes, "what entra-app set is kept"
    assert api["preAuthorizedApplications"] == [{"appId": "CLI", "delegatedPermissionIds": ["scope-1"]}]


def test_tokens_list_only_the_groups_assigned_to_the_application() -> None:
    """A user cannot push themselves past the 200 groups a token holds (a groups overage) with groups of their own
    making: only groups assigned to the enterprise application are emitted (Microsoft.Graph/applications@v1.0
    types `groupMembershipClaims` as a string: None, SecurityGroup, DirectoryRole, ApplicationGroup or All)."""
    app = unwrap(graph_resource("entra-app.bicep", "Microsoft.Graph/applications")["config"])
    assert app["groupMembershipClaims"] == "ApplicationGroup"


@pytest.mark.parametrize("required", [False, True])
def test_an_app_role_assignment_may_be_required(required: bool) -> None:
    principal = unwrap(graph_resource("entra-api.bicep", "Microsoft.Graph/servicePrincipals")["config"])
    assert dotted(principal["appId"]) == "app.appId"
    assert evaluate(principal["appRoleAssignmentRequired"], {"appRoleRequired": required}) is required
    assignment = graph_resource("entra-api.bicep", "Microsoft.Graph/appRoleAssignedTo")["config"]
    for deployer in ("", "00000000-0000-0000-0000-00000000d00d"):
        bindings = {"appRoleRequired": required, "principalId": deployer}
        assert bool(evaluate(assignment["condition"], bindings)) is (required and bool(deployer)), "whoever runs azd up"
    body = unwrap(assignment)
    assert body["principalId"] == "principalId" and dotted(body["resourceId"]) == "servicePrincipal.id"
    given = main_params("entraApi")
    assert given["appRoleRequired"] == "entraAppRoleRequired" and given["principalId"] == "principalId"
    role = evaluate(main_params("functionApp")["entraRequiredRole"], {"useEntra": True, "entraAppRoleRequired": required})
    assert role == ("entraAppRole" if required else ""), "the bridge checks the role too"
    assert variable("main.bicep", "entraAppRole") == "Bridge.User"


@pytest.mark.parametrize("mode", [TOKEN_MODE, ENTRA_MODE])
def test_the_registration_exists_only_in_entra_mode(mode: str) -> None:
    use_entra = evaluate(variable("main.bicep", "useEntra"), {"clientAuth": mode})
    assert use_entra is (mode == ENTRA_MODE)
    for symbol in ("entraApp", "entraApi"):
        assert module("main.bicep", symbol)["config"]["condition"] == "useEntra", f"{symbol} only with CLIENT_AUTH=entra"
    given = main_params("entraApi")
    assert dotted(given["clientId"]) == "entraApp.outputs.clientId" and dotted(given["api"]) == "entraApp.outputs.api"
    assert given["uniqueName"] == main_params("entraApp")["uniqueName"] == "entraAppName"
    app = main_params("functionApp")
    assert app["clientAuth"] == "clientAuth"
    client_id = evaluate(app["entraClientId"], {"useEntra": use_entra, "entraApi.outputs.clientId": "CLIENT"})
    assert client_id == ("CLIENT" if use_entra else "")
    assert app["entraTenantId"] == {"function": {"type": "tenant", "parameters": {}}} or "tenant" in json.dumps(
        app["entraTenantId"]
    )
    assert "loginEndpoint" in json.dumps(app["entraAuthority"]), "this cloud's sign-in host"
    outputs = bicep("main.bicep")["outputs"]
    assert (
        evaluate(outputs["ENTRA_CLIENT_ID"]["value"], {"useEntra": use_entra, "entraApi.outputs.clientId": "CLIENT"}) == client_id
    )
    assert outputs["CLIENT_AUTH"]["value"] == "clientAuth" and "ENTRA_TENANT_ID" in outputs


def test_the_usage_table_in_the_apps_storage_account_with_table_data_access() -> None:
    from bridge.gateway.auth.key_table import KEYS_TABLE
    from bridge.gateway.login.rows import LOGIN_TABLE
    from bridge.gateway.usage.table_store import USAGE_TABLE

    tables = [KEYS_TABLE, USAGE_TABLE, LOGIN_TABLE]
    assert variable("main.bicep", "bridgeTables") == tables, "the tables the bridge reads and writes"
    assert main_params("storage")["tableNames"] == "bridgeTables"
    tables = resources_of_type("storage.bicep", "Microsoft.Storage/storageAccounts/tableServices/tables")
    assert len(tables) == 1 and tables[0]["config"]["loop_type"]["detail"] == {"item_name": "table", "array_name": "tableNames"}
    assert unwrap(tables[0]["config"])["parent"] == "tableService"
    assert "primaryEndpoints" in json.dumps(bicep("storage.bicep")["outputs"]["tableEndpoint"]["value"])
    assert '"table"' in json.dumps(bicep("storage.bicep")["outputs"]["tableEndpoint"]["value"])
    settings = app_settings()
    assert settings["USAGE_TABLE_ENDPOINT"] == "usageTableEndpoint"
    assert dotted(main_params("functionApp")["usageTableEndpoint"]) == "storage.outputs.tableEndpoint"
    # In both sign-in modes and both network modes: counters are shared by every instance; a private
    # deployment reaches the table service through its private endpoint.
    assert (STORAGE_TABLE_DATA_CONTRIBUTOR, "identityPrincipalId", False) in role_assignments("storage.bicep")
    assert PRIVATE_ENDPOINTS["table"][0] == "table"
    assert "USAGE_CONNECTION_STRING" not in settings, "no shared keys: the identity, never a connection string"


def test_gateway_settings_reach_the_app() -> None:
    settings = app_settings()
    for name, value in {
        "CLIENT_AUTH": "clientAuth",
        "ENTRA_TENANT_ID": "entraTenantId",
        "ENTRA_CLIENT_ID": "entraClientId",
        "ENTRA_AUTHORITY": "entraAuthority",
        "ENTRA_REQUIRED_ROLE": "entraRequiredRole",
        "BUDGET_DAILY_TOKENS": "budgetDailyTokens",
        "BUDGET_MONTHLY_TOKENS": "budgetMonthlyTokens",
        "BUDGET_OVERRIDES": "budgetOverrides",
        "BUDGET_DAILY_USD": "budgetDailyUsd",
        "BUDGET_MONTHLY_USD": "budgetMonthlyUsd",
        "BUDGET_WARN_PERCENT": "budgetWarnPercent",
        "PRICES": "prices",
        "RATE_LIMIT_REQUESTS_PER_MINUTE": "rateLimitRequestsPerMinute",
        "RATE_LIMIT_TOKENS_PER_MINUTE": "rateLimitTokensPerMinute",
        "MODEL_POLICY": "modelPolicy",
    }.items():
        assert settings[name] == value, name
    for name, parameter in (("PERSONAL_KEY_DAYS", "personalKeyDays"), ("PERSONAL_KEY_SIGNIN_DAYS", "personalKeySignInDays")):
        assert settings[name] == {"function": {"type": "string", "parameters": {"value_to_convert": parameter}}}
    given = main_params("functionApp")
    for name in ("personalKeyDays", "personalKeySignInDays", "budgetDailyTokens", "budgetMonthlyTokens", "budgetOverrides"):
        assert given[name] == name
    for name in ("budgetDailyUsd", "prices", "rateLimitRequestsPerMinute", "modelPolicy"):
        assert given[name] == name
    assert (settings["ENTRA_ADMIN_ROLE"], settings["ENTRA_AUTOMATION_ROLE"]) == ("entraAdminRole", "entraAutomationRole")
    for role, value in (("entraAdminRole", "Bridge.Admin"), ("entraAutomationRole", "Bridge.Automation")):
        assert variable("main.bicep", role) == value, "the roles entra-app.bicep defines"
        for use_entra in (True, False):
            assert evaluate(given[role], {"useEntra": use_entra}) == (role if use_entra else "")
    roles = main_params("entraApp")
    assert (roles["adminRole"], roles["automationRole"]) == ("entraAdminRole", "entraAutomationRole")


def test_the_alerts_email_the_alert_address_and_cover_each_risk() -> None:
    group = one("alerts.bicep", "Microsoft.Insights/actionGroups")
    assert group["location"] == "Global" and len(group["properties"]["groupShortName"]) <= 12
    receivers = group["properties"]["emailReceivers"]["operator"]
    assert receivers["type"] == "conditional" and "alertEmail" in json.dumps(receivers)
    given = main_params("alerts")
    assert given["alertEmail"] == "alertEmail" and dotted(given["workspaceId"]) == "monitoring.outputs.logAnalyticsId"
    assert param("main.bicep", "alertReconcileGapPercent")["default"] == 5
    names = {unquote(rule["name"]) for rule in variable("alerts.bicep", "rules")}
    assert names == {"daily-cost", "budget-refusals", "upstream-errors", "indexing-failure", "not-serving", "bill-gap"}
    rules = unwrap(resources("alerts.bicep")["alertRules"]["config"])
    assert rules["kind"] == "LogAlert" and rules["properties"]["skipQueryValidation"] is True
    assert "Worker failed to index functions" in variable("alerts.bicep", "indexingFailures")
    assert "AppAvailabilityResults" in variable("alerts.bicep", "notServing")
    test = unwrap(resources("alerts.bicep")["availability"]["config"])
    assert "/health" in json.dumps(test["properties"]["Request"]["RequestUrl"])
    assert "allowedIpRangeList" in json.dumps(given["availabilityTest"]), "Azure's probes cannot pass ALLOWED_IP_RANGES"


def test_cost_management_reader_where_the_openai_resource_is() -> None:
    assert {name: dotted(value) for name, value in main_params("costReader").items()} == {
        "identityPrincipalId": "identity.outputs.principalId"
    }
    scope = json.dumps(unwrap(module("main.bicep", "costReader")["config"])["scope"])
    assert "openAiSubscriptionId" in scope and "openAiResourceGroupName" in scope
    settings = app_settings()
    assert settings["RECONCILE_RESOURCE_IDS"] == "reconcileResourceIds"
    assert dotted(main_params("functionApp")["reconcileResourceIds"]) == "openAiResourceId"
    assert main_params("functionApp")["reconcileGapPercent"] == "alertReconcileGapPercent", (
        "one threshold: the app's and the alert's"
    )


def test_telemetry_goes_the_way_azure_functions_documents_it() -> None:
    host = json.loads((ROOT / "host.json").read_text())
    assert host["telemetryMode"] == "OpenTelemetry"
    assert "applicationInsights" not in host["logging"], "sampling settings do not apply in OpenTelemetry mode"
    settings = app_settings()
    assert settings["PYTHON_ENABLE_OPENTELEMETRY"] == "true"
    assert "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY" not in settings, "the bridge sets up its own exporter"
    assert settings["APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL"] == "true"


def test_login_settings_reach_the_app() -> None:
    settings = app_settings()
    assert settings["LOGIN_SIGNING_KEY"] == "@Microsoft.KeyVault(SecretUri=${loginSigningKeySecretUri})"
    assert settings["LOGIN_TOKEN_MINUTES"] == {
        "function": {"type": "string", "parameters": {"value_to_convert": "loginTokenMinutes"}}
    }
    assert settings["LOGIN_BASE_URL"] == "loginBaseUrl"
    given = main_params("functionApp")
    assert dotted(given["loginSigningKeySecretUri"]) == "keyVault.outputs.loginSigningKeySecretUri"
    assert given["loginTokenMinutes"] == "loginTokenMinutes" and given["loginBaseUrl"] == "loginBaseUrl"
    for host, url in (("", ""), ("gw.corp.example.com", "https://gw.corp.example.com")):
        assert evaluate(variable("main.bicep", "loginBaseUrl"), {"loginHostName": host}) == url
    assert parameters_file()["loginHostName"]["value"] == "${LOGIN_HOST_NAME}"
    assert parameters_file()["loginTokenMinutes"]["value"] == "${LOGIN_TOKEN_MINUTES}"
    assert param("main.bicep", "loginTokenMinutes")["default"] == 60


def test_the_login_signing_key_is_generated_once_and_stays_stable() -> None:
    generated = param("main.bicep", "generatedLoginSigningKey")
    assert decorator(generated, "secure")
    assert generated["default"] == "${newGuid()}${newGuid()}${newGuid()}", "three GUIDs: 366 random bits"
    assert parameters_file()["provisionedLoginSigningKey"]["value"] == "${LOGIN_SIGNING_KEY_SECRET_NAME}"
    assert "LOGIN_SIGNING_KEY_SECRET_NAME" in bicep("main.bicep")["outputs"], "azd feeds it back on the next provision"
    kv = unwrap(module("main.bicep", "keyVault")["config"])["params"]
    assert kv["loginSigningKey"] == "generatedLoginSigningKey" and kv["writeLoginSigningKey"] == "writeLoginSigningKey"
    secret = resources("keyvault.bicep")["loginSigningKeySecret"]
    assert secret["config"]["condition"] == "writeLoginSigningKey"
    assert unwrap(secret["config"])["properties"]["value"] == "loginSigningKey"
    write = variable("main.bicep", "writeLoginSigningKey")
    vault, name = "kv-abc123", variable("main.bicep", "loginSigningKeySecretName")

    def written(provisioned_vault: str, provisioned_key: str) -> bool:
        bindings = {
            "provisionedKeyVaultName": provisioned_vault,
            "provisionedLoginSigningKey": provisioned_key,
            "names.keyVault": vault,
            "loginSigningKeySecretName": name,
        }
        return bool(evaluate(write, bindings))

    assert written("", ""), "first provision"
    assert written(vault, ""), "a deployment from before /login gets its key once"
    assert not written(vault, name), "later provisions keep the key, rotated or not"
    assert written("kv-other", name), "a new vault gets a key"


@pytest.mark.parametrize("mode", [TOKEN_MODE, ENTRA_MODE])
def test_login_registers_its_redirect_uri_and_trusts_the_apps_identity(mode: str) -> None:
    login = module("main.bicep", "entraLogin")
    assert login["config"]["condition"] == "useEntra", "only the Entra mode has a registration"
    assert evaluate(variable("main.bicep", "useEntra"), {"clientAuth": mode}) is (mode == ENTRA_MODE)
    given = main_params("entraLogin")
    assert given["uniqueName"] == "entraAppName", "the same registration, upserted"
    assert dotted(given["identityPrincipalId"]) == "identity.outputs.principalId"
    assert dotted(given["clientId"]) == "entraApi.outputs.clientId", "after entra-api.bicep: one PATCH at a time"
    assert dotted(given["scopeId"]) == "entraApp.outputs.scopeId"
    assert "loginEndpoint" in json.dumps(given["issuer"]) and "/v2.0" in json.dumps(given["issuer"])
    for host, expected in (("", ["URL"]), ("gw.corp.example.com", ["URL", "https://gw.corp.example.com"])):
        bindings = {"loginHostName": host, "functionApp.outputs.url": "URL", "loginBaseUrl": f"https://{host}"}
        assert evaluate(given["baseUrls"], bindings) == expected
    app = unwrap(graph_resource("entra-login.bicep", "Microsoft.Graph/applications")["config"])
    assert app["uniqueName"] == "uniqueName"
    assert "/oauth/callback" in json.dumps(app["web"]["redirectUris"])
    graph, own = app["requiredResourceAccess"]
    assert graph["resourceAppId"] == "graphAppId" and variable("entra-login.bicep", "graphAppId") == GRAPH_APP_ID
    assert set(variable("entra-login.bicep", "openIdScopes")) == GRAPH_OPENID_SCOPES
    assert own["resourceAppId"] == "clientId" and own["resourceAccess"] == [{"id": "scopeId", "type": "Scope"}]
    federation = unwrap(
        graph_resource("entra-login.bicep", "Microsoft.Graph/applications/federatedIdentityCredentials")["config"]
    )
    assert federation["audiences"] == ["api://AzureADTokenExchange"]
    assert (federation["issuer"], federation["subject"]) == ("issuer", "identityPrincipalId")
    assert "app.uniqueName" in json.dumps(federation["name"]) or "uniqueName" in json.dumps(federation["name"])


@pytest.mark.process  # the hook runs in sh
def test_posix_hook_in_entra_mode_prints_the_api_key_helper_and_personal_keys() -> None:
    client = "11111111-2222-3333-4444-555555555555"
    out = run_posix_hook(CLIENT_AUTH="entra", ENTRA_CLIENT_ID=client, ENTRA_TENANT_ID="72f988bf-86f1-41af-91ab-2d7cd011db47")
    helper = f"az account get-access-token --resource api://{client} --query accessToken -o tsv"
    settings_json = json.loads(out[out.index("{") : out.index("}\n}") + 3])
    assert settings_json["apiKeyHelper"] == helper
    assert settings_json["env"]["ANTHROPIC_BASE_URL"] == "https://func-test.azurewebsites.net"
    assert "az keyvault secret show" not in out, "no shared token in entra mode"
    assert "curl -s -X POST https://func-test.azurewebsites.net/v1/keys" in out and "cab_" in out
    assert "https://func-test.azurewebsites.net/v1/usage" in out
    assert "Reachable:    from any address, with a Microsoft Entra ID sign-in or a personal key" in out
    assert "az login --tenant 72f988bf-86f1-41af-91ab-2d7cd011db47" in out


@pytest.mark.process  # the hook runs in sh
def test_posix_hook_in_token_mode_ignores_entra_outputs_left_empty() -> None:
    out = run_posix_hook(CLIENT_AUTH="token", ENTRA_CLIENT_ID="")
    assert '"apiKeyHelper": "az keyvault secret show --vault-name kv-test' in out
    assert "get-access-token" not in out

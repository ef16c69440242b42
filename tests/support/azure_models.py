"""Azure's published resource models, from the azure-mgmt-* packages, as shapes a Bicep body is checked against.

The Azure SDK for Python generates one model class per REST schema from the same REST API specs
(azure-rest-api-specs) that Bicep's resource types are generated from. Each class's
`_attribute_map` gives the REST name of every property (`'key': 'properties.siteConfig'`, the
dots being the flattening of `properties`) and its type (`'SiteConfig'`, `'[Subnet]'`, `'{str}'`,
`'str'`); `_validation` marks the read-only ones; the `__init__` annotations name the enum of a
string property; `_subtype_map` names the subclasses of a polymorphic model by discriminator.

Which class (MODELS below is the table), at which API version:

| resource types (Bicep)                                    | model classes                                   | package (PyPI)                 |
|-----------------------------------------------------------|-------------------------------------------------|--------------------------------|
| Microsoft.Resources/resourceGroups                        | ResourceGroup                                   | azure-mgmt-resource            |
| Microsoft.ManagedIdentity/userAssignedIdentities          | Identity                                        | azure-mgmt-msi                 |
| Microsoft.Storage/storageAccounts (+ blob and table services, containers, tables) | StorageAccountCreateParameters, ... | azure-mgmt-storage       |
| Microsoft.Web/serverfarms, sites, sites/basicPublishingCredentialsPolicies | AppServicePlan, Site, CsmPublishingCredentialsPoliciesEntity | azure-mgmt-web |
| Microsoft.OperationalInsights/workspaces                  | Workspace                                       | azure-mgmt-loganalytics        |
| Microsoft.Insights/components, workbooks, webtests        | ApplicationInsightsComponent, Workbook, WebTest | azure-mgmt-applicationinsights |
| Microsoft.Insights/diagnosticSettings, actionGroups, scheduledQueryRules | DiagnosticSettingsResource, ActionGroupResource, ScheduledQueryRuleResource | azure-mgmt-monitor |
| Microsoft.KeyVault/vaults, vaults/secrets                 | VaultCreateOrUpdateParameters, SecretCreateOrUpdateParameters | azure-mgmt-keyvault |
| Microsoft.CognitiveServices/accounts, accounts/deployments | Account, Deployment                            | azure-mgmt-cognitiveservices   |
| Microsoft.Authorization/roleAssignments                   | RoleAssignmentCreateParameters                  | azure-mgmt-authorization       |
| Microsoft.Network/virtualNetworks, networkSecurityGroups, privateEndpoints (+ privateDnsZoneGroups) | VirtualNetwork, ... | azure-mgmt-network |
| Microsoft.Network/privateDnsZones (+ virtualNetworkLinks) | PrivateZone, VirtualNetworkLink                 | azure-mgmt-privatedns          |
| Microsoft.Graph/* (the Graph Bicep extension)             | none: NO_MODEL says why                         |                                |

Where a resource's PUT body has its own schema (storage accounts, vaults, secrets, role
assignments), the class is that body's, as Bicep's type is.

A multi-API package carries each API version as a subpackage (`azure.mgmt.web.v2024_04_01`);
a single-API one carries one version in `models`, which is read from the api-version its
operations send to the resource type's URL. Newer releases carry only the newest version, so
requirements-dev.in pins the release that carries the Bicep's. Where no release carries it, the
nearest older version stands in (NEAREST_OLDER): properties are added in later versions, not
removed, so the older model can only err by flagging a property added since, loudly; the newer one
would pass a property the Bicep's version lacks, silently.
"""

from __future__ import annotations

import enum
import importlib
import importlib.metadata
import pkgutil
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any


@dataclass(frozen=True)
class ModelRef:
    package: str  # the Python package of the provider's models, e.g. azure.mgmt.web
    name: str  # the model class of the resource's PUT body

    @property
    def distribution(self) -> str:
        return "-".join(self.package.split(".")[:3])


MODELS: dict[str, ModelRef] = {
    "Microsoft.Resources/resourceGroups": ModelRef("azure.mgmt.resource.resources", "ResourceGroup"),
    "Microsoft.ManagedIdentity/userAssignedIdentities": ModelRef("azure.mgmt.msi", "Identity"),
    "Microsoft.Storage/storageAccounts": ModelRef("azure.mgmt.storage", "StorageAccountCreateParameters"),
    "Microsoft.Storage/storageAccounts/blobServices": ModelRef("azure.mgmt.storage", "BlobServiceProperties"),
    "Microsoft.Storage/storageAccounts/blobServices/containers": ModelRef("azure.mgmt.storage", "BlobContainer"),
    "Microsoft.Storage/storageAccounts/tableServices": ModelRef("azure.mgmt.storage", "TableServiceProperties"),
    "Microsoft.Storage/storageAccounts/tableServices/tables": ModelRef("azure.mgmt.storage", "Table"),
    "Microsoft.Web/serverfarms": ModelRef("azure.mgmt.web", "AppServicePlan"),
    "Microsoft.Web/sites": ModelRef("azure.mgmt.web", "Site"),
    "Microsoft.Web/sites/basicPublishingCredentialsPolicies": ModelRef(
        "azure.mgmt.web", "CsmPublishingCredentialsPoliciesEntity"
    ),
    "Microsoft.OperationalInsights/workspaces": ModelRef("azure.mgmt.loganalytics", "Workspace"),
    "Microsoft.Insights/components": ModelRef("azure.mgmt.applicationinsights", "ApplicationInsightsComponent"),
    "Microsoft.Insights/workbooks": ModelRef("azure.mgmt.applicationinsights", "Workbook"),
    "Microsoft.Insights/webtests": ModelRef("azure.mgmt.applicationinsights", "WebTest"),
    "Microsoft.Insights/diagnosticSettings": ModelRef("azure.mgmt.monitor", "DiagnosticSettingsResource"),
    "Microsoft.Insights/actionGroups": ModelRef("azure.mgmt.monitor", "ActionGroupResource"),
    "Microsoft.Insights/scheduledQueryRules": ModelRef("azure.mgmt.monitor", "ScheduledQueryRuleResource"),
    "Microsoft.KeyVault/vaults": ModelRef("azure.mgmt.keyvault", "VaultCreateOrUpdateParameters"),
    "Microsoft.KeyVault/vaults/secrets": ModelRef("azure.mgmt.keyvault", "SecretCreateOrUpdateParameters"),
    "Microsoft.CognitiveServices/accounts": ModelRef("azure.mgmt.cognitiveservices", "Account"),
    "Microsoft.CognitiveServices/accounts/deployments": ModelRef("azure.mgmt.cognitiveservices", "Deployment"),
    "Microsoft.Authorization/roleAssignments": ModelRef("azure.mgmt.authorization", "RoleAssignmentCreateParameters"),
    "Microsoft.Network/virtualNetworks": ModelRef("azure.mgmt.network", "VirtualNetwork"),
    "Microsoft.Network/networkSecurityGroups": ModelRef("azure.mgmt.network", "NetworkSecurityGroup"),
    "Microsoft.Network/privateEndpoints": ModelRef("azure.mgmt.network", "PrivateEndpoint"),
    "Microsoft.Network/privateEndpoints/privateDnsZoneGroups": ModelRef("azure.mgmt.network", "PrivateDnsZoneGroup"),
    "Microsoft.Network/privateDnsZones": ModelRef("azure.mgmt.privatedns", "PrivateZone"),
    "Microsoft.Network/privateDnsZones/virtualNetworkLinks": ModelRef("azure.mgmt.privatedns", "VirtualNetworkLink"),
}

# Resource types no azure-mgmt package models, and why. Every other type must be in MODELS.
GRAPH_EXTENSION = (
    "a resource of the Microsoft Graph Bicep extension (infra/bicepconfig.json), not an Azure Resource "
    "Manager type: no azure-mgmt package models it (its types come from the extension's own type index)"
)
NO_MODEL: dict[str, str] = {
    "Microsoft.Graph/applications": GRAPH_EXTENSION,
    "Microsoft.Graph/servicePrincipals": GRAPH_EXTENSION,
    "Microsoft.Graph/appRoleAssignedTo": GRAPH_EXTENSION,
    "Microsoft.Graph/applications/federatedIdentityCredentials": GRAPH_EXTENSION,
}

# (type, the Bicep's API version) -> the version checked instead, where no release of the package
# carries the Bicep's (its releases' files on PyPI, December 2026): the nearest older one (see above).
NEAREST_OLDER: dict[tuple[str, str], str] = {
    # azure-mgmt-resource: 23.2.0 ends at 2022-09-01, 23.3.0 adds 2024-07-01, 25.0.0 on carry only 2025-04-01.
    ("Microsoft.Resources/resourceGroups", "2024-03-01"): "2022-09-01",
    # azure-mgmt-loganalytics 12.0.0 sends 2021-06-01 for workspaces; the next release, 13.1.0, 2025-07-01.
    ("Microsoft.OperationalInsights/workspaces", "2023-09-01"): "2021-06-01",
    # azure-mgmt-monitor: 6.0.2 (multi-API) ends at 2022-08-01-preview for scheduledQueryRules; 7.0.0 carries
    # 2023-12-01 but drops diagnosticSettings, which only 6.0.2 carries at the Bicep's 2021-05-01-preview, and
    # one release of a package is all an environment holds.
    ("Microsoft.Insights/scheduledQueryRules", "2023-12-01"): "2022-08-01-preview",
}

VERSION_PACKAGE = re.compile(r"^v(\d{4})_(\d{2})_(\d{2})(_preview)?$")
API_VERSION_LITERAL = re.compile(r'(?:"api-version", |api_version = )"(\d{4}-\d{2}-\d{2}(?:-preview)?)"')
PRIMITIVES = {
    "str": "string",
    "int": "int",
    "long": "int",
    "float": "number",
    "decimal": "number",
    "bool": "bool",
    "iso-8601": "string",
    "rfc-1123": "string",
    "unix-time": "int",
    "duration": "string",
    "date": "string",
    "time": "string",
    "bytearray": "string",
    "base64": "string",
    "object": "any",
}
UNESCAPED_DOT = re.compile(r"(?<!\\)\.")
ANNOTATED_NAME = re.compile(r"""_models\.(\w+)|['"](\w+)['"]""")


class ModelMissing(Exception):
    """The installed SDK has no model for this resource type at this API version."""


# ----- shapes -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scalar:
    kind: str  # string, int, number, bool, or any (free-form JSON: anything goes below it)

    def describe(self) -> str:
        return "any JSON" if self.kind == "any" else f"a {self.kind}"


@dataclass(frozen=True)
class Array:
    item: Shape

    def describe(self) -> str:
        return "an array"


@dataclass(frozen=True)
class Map:
    value: Shape

    def describe(self) -> str:
        return "an object with free keys"


@dataclass(frozen=True)
class Field:
    shape: Shape
    readonly: bool
    values: frozenset[str]  # the enum's values for a string property; empty: any string


@dataclass(frozen=True)
class Object:
    """A model class's REST properties; `properties` flattened into the class is a nested Object."""

    name: str
    models: ModuleType
    classes: tuple[type, ...]  # the class and, for a flattened level, the path below it
    prefix: tuple[str, ...] = ()

    def describe(self) -> str:
        return f"an object ({self.name})"

    @property
    def fields(self) -> Mapping[str, Field]:
        return object_fields(self)

    def discriminated(self, literal_values: Mapping[str, Any]) -> Object:
        """The subclass a literal discriminator value in the Bicep picks (`kind: 'Custom'`), else self."""
        if self.prefix or len(self.classes) != 1:
            return self
        cls = self.classes[0]
        for attribute, subtypes in getattr(cls, "_subtype_map", {}).items():
            rest_key = attribute_map(cls)[attribute]["key"]
            value = literal_values.get(rest_key)
            if isinstance(value, str) and value in subtypes:
                subclass = getattr(self.models, subtypes[value])
                return Object(subclass.__name__, self.models, (subclass,)).discriminated(literal_values)
        return self


Shape = Scalar | Array | Map | Object


def attribute_map(cls: type) -> dict[str, dict[str, str]]:
    """Python attribute -> {'key': REST path, 'type': type name} of an msrest-style model class."""
    found: dict[str, dict[str, str]] = getattr(cls, "_attribute_map", {})
    return found


def rest_path(key: str) -> tuple[str, ...]:
    """'properties.siteConfig' -> ('properties', 'siteConfig'); msrest escapes a literal dot as '\\.'."""
    return tuple(part.replace("\\.", ".") for part in UNESCAPED_DOT.split(key))


def subclasses(models: ModuleType, cls: type) -> list[type]:
    """A polymorphic class and every subclass its `_subtype_map` names, transitively."""
    found = [cls]
    for subtypes in getattr(cls, "_subtype_map", {}).values():
        for name in subtypes.values():
            found += subclasses(models, getattr(models, name))
    return found


@cache
def object_fields(shape: Object) -> dict[str, Field]:
    """The REST properties one level below `shape`: own, inherited, and (undiscriminated) every subclass's."""
    fields: dict[str, Field] = {}
    nested: dict[str, list[type]] = {}
    depth = len(shape.prefix)
    for top in shape.classes:
        for cls in subclasses(shape.models, top):
            validation = getattr(cls, "_validation", {})
            for attribute, entry in attribute_map(cls).items():
                path = rest_path(entry["key"])
                if path[:depth] != shape.prefix or len(path) == depth:
                    continue
                name = path[depth]
                if len(path) > depth + 1:
                    nested.setdefault(name, []).append(cls)
                    continue
                readonly = bool(validation.get(attribute, {}).get("readonly"))
                fields[name] = Field(shape_of(shape.models, entry["type"]), readonly, enum_values(shape.models, cls, attribute))
    for name, owners in nested.items():
        flattened = Object(f"{shape.name}.{name}", shape.models, tuple(dict.fromkeys(owners)), (*shape.prefix, name))
        if name in fields and isinstance(fields[name].shape, Object):  # both `properties` and `properties.x`
            continue
        fields[name] = Field(flattened, readonly=False, values=frozenset())
    return fields


def shape_of(models: ModuleType, type_name: str) -> Shape:
    if type_name.startswith("[") and type_name.endswith("]"):
        return Array(shape_of(models, type_name[1:-1]))
    if type_name.startswith("{") and type_name.endswith("}"):
        return Map(shape_of(models, type_name[1:-1]))
    if type_name in PRIMITIVES:
        return Scalar(PRIMITIVES[type_name])
    cls = getattr(models, type_name, None)
    if cls is None:
        raise ModelMissing(f"{models.__name__} has no model {type_name}")
    return Object(type_name, models, (cls,))


def enum_values(models: ModuleType, cls: type, attribute: str) -> frozenset[str]:
    """The values of the string enum the `__init__` annotation of `attribute` names, if any."""
    for klass in cls.__mro__:
        annotations = getattr(vars(klass).get("__init__"), "__annotations__", {})
        if attribute in annotations:
            values: set[str] = set()
            for name in {plain or quoted for plain, quoted in ANNOTATED_NAME.findall(str(annotations[attribute]))}:
                found = getattr(models, name, None)
                if isinstance(found, type) and issubclass(found, enum.Enum):
                    values.update(member.value for member in found if isinstance(member.value, str))
            return frozenset(values)
    return frozenset()


# ----- which model, at which API version ---------------------------------------------------------------


@dataclass(frozen=True)
class ResourceModel:
    type: str
    api_version: str  # the Bicep's
    checked_version: str  # the model's: the same, or NEAREST_OLDER's
    release: str  # e.g. azure-mgmt-web 8.0.0
    shape: Object


def api_version_of(package_name: str) -> str:
    return package_name[1:].replace("_preview", "-preview").replace("_", "-", 2)


@cache
def carried_versions(package: str, type_: str) -> dict[str, str]:
    """API version -> models module the installed release carries for `type_`."""
    module = importlib.import_module(package)
    subpackages = [info.name for info in pkgutil.iter_modules(module.__path__) if VERSION_PACKAGE.match(info.name)]
    if subpackages:
        return {api_version_of(name): f"{package}.{name}.models" for name in subpackages}
    return dict.fromkeys(single_api_versions(module, type_), f"{package}.models")


def single_api_versions(module: ModuleType, type_: str) -> set[str]:
    """The api-versions a single-API package's operations send to the URL of `type_` (usually one)."""
    namespace, *segments = type_.split("/")
    path = "".join(rf"/{re.escape(segment)}/\{{[^}}/]+\}}" for segment in segments)
    url = re.compile(rf"/providers/{re.escape(namespace)}{path}['\"]")
    versions: set[str] = set()
    for source in sorted(Path(module.__path__[0], "operations").glob("*.py")):
        text = source.read_text()
        for match in url.finditer(text):
            before = API_VERSION_LITERAL.findall(text, 0, match.start())
            if before:
                versions.add(before[-1])
    return versions


def span(versions: list[str]) -> str:
    if len(versions) > 3:
        return f"{len(versions)} versions, {versions[0]} to {versions[-1]}"
    return ", ".join(versions) or "none"


@cache
def resource_model(type_: str, api_version: str) -> ResourceModel:
    """The model of `type_` at `api_version`; ModelMissing says what to pin when the SDK lacks it."""
    ref = MODELS[type_]
    release = f"{ref.distribution} {importlib.metadata.version(ref.distribution)}"
    carried = carried_versions(ref.package, type_)
    checked = api_version if api_version in carried else NEAREST_OLDER.get((type_, api_version), api_version)
    if checked not in carried:
        raise ModelMissing(
            f"{release} has no model of {type_} at {api_version} (it carries {span(sorted(carried))}): "
            f"pin a release of {ref.distribution} that does in requirements-dev.in"
        )
    models = importlib.import_module(carried[checked])
    cls = getattr(models, ref.name, None)
    if cls is None:
        raise ModelMissing(f"{release}: {carried[checked]} has no class {ref.name} (MODELS names it for {type_})")
    return ResourceModel(type_, api_version, checked, release, Object(ref.name, models, (cls,)))

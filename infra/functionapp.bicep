// Flex Consumption plan (FC1) and the Linux Function App that runs the bridge.
// Everything authenticates with the user-assigned identity; secrets arrive as
// Key Vault references. Flex Consumption rejects FUNCTIONS_WORKER_RUNTIME,
// FUNCTIONS_EXTENSION_VERSION, WEBSITE_RUN_FROM_PACKAGE, SCM_DO_BUILD_DURING_DEPLOYMENT
// and the other legacy settings: runtime and deployment live in functionAppConfig.
//
// Locked down in every mode: HTTPS and TLS 1.2 only, FTP off, basic-auth publishing
// (FTP and SCM) off so code is published with Microsoft Entra ID only, the SCM site
// behind the same access rules as the app, and the app's logs in Log Analytics.
// Options: VNet integration (outbound traffic into the bridge's virtual network, where
// the private endpoints are) and allowed client IP ranges (inbound).

@description('Name of the Function App (its host name is <name>.azurewebsites.net).')
param name string

@description('Name of the Flex Consumption plan.')
param planName string

@description('Region of the plan and the app (must offer Flex Consumption).')
param location string

@description('Tags applied to both resources; the app also gets azd-service-name: api.')
param tags object = {}

// ----- identity, storage, monitoring

@description('Resource id of the user-assigned managed identity.')
param identityId string

@description('Client id of the user-assigned managed identity.')
param identityClientId string

@description('Name of the storage account used as host storage.')
param storageAccountName string

@description('Blob endpoint of the storage account (https://<account>.blob.core.windows.net/).')
param storageBlobEndpoint string

@description('Blob container that receives the deployment package.')
param deploymentContainerName string

@description('Application Insights connection string.')
param appInsightsConnectionString string

@description('Resource id of the Log Analytics workspace that receives the app\'s logs (FunctionAppLogs).')
param logAnalyticsWorkspaceId string

// ----- network

@description('Resource id of the subnet (delegated to Microsoft.App/environments) the app integrates with; empty = no VNet integration.')
param virtualNetworkSubnetId string = ''

@description('Client address ranges (CIDR) allowed to call the app and its SCM site; empty = every address.')
param allowedIpRanges array = []

// ----- Flex Consumption
// Sizing, from `python -m bench.sizing` (bench/README.md section 8; figures in docs/deploy.md, "Cost and sizing"):
// one bridge process holds 500 concurrent streams of the recorded 51 KB Claude Code request (100 deltas
// 50 ms apart) with about 0.19 MiB and 7 ms of CPU per stream above a 63 MiB idle process; the
// worker with the HTTP-streaming extension loads in about 1 s and 73 MiB. Its upstream connection pool
// holds 256 streams (bridge/http.py): beyond that, streams wait for a connection.
// - instanceMemoryMB 2048: memory is never the limit (100 streams need about 110 MiB in the worker);
//   the reason is the CPU that comes with it (Flex gives 512 MB 0.25 cores, 2048 MB 1 core): a cold
//   start and every request's parsing run 4 times slower on 512 MB, to save about USD 13 a month for
//   10 developers, under 0.5% of their tokens (an instance is billed for its memory while it runs).
// - httpPerInstanceConcurrency 100: 100 streams cost the bridge about 0.15 of a core; with the
//   Functions host's and the worker's proxy work on top (not measurable here; counted as twice the
//   bridge's) an instance stays under half its core, and well under the pool's 256. The former 16
//   started (and billed) a second instance, with its cold start, for every 16 streams.
// - maximumInstanceCount 20: 2,000 streams at once, eight times the busiest moments of 1,000
//   developers (about 250 streams: docs/deploy.md, "Cost and sizing"), and a ceiling on what a flood of
//   requests can cost: 20 instances of 2 GB are about USD 3.70 an hour. The Azure OpenAI quota
//   (tokens per minute) binds long before.

@description('Python version of the app.')
@allowed([
  '3.11'
  '3.12'
])
param pythonVersion string = '3.11'

@description('Memory of each instance, in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Maximum number of instances the app scales out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 20

@description('HTTP requests one instance handles at once (the bridge is I/O bound: mostly waiting on Azure OpenAI).')
@minValue(1)
@maxValue(1000)
param httpPerInstanceConcurrency int = 100

// ----- settings the bridge reads (bridge/settings.py)

@description('AZURE_OPENAI_ENDPOINT.')
param openAiEndpoint string

@description('AZURE_OPENAI_API_VERSION: empty uses the v1 API.')
param openAiApiVersion string = ''

@description('BIG_MODEL: deployment that serves opus requests.')
param bigModel string

@description('MIDDLE_MODEL: deployment that serves sonnet requests.')
param middleModel string

@description('SMALL_MODEL: deployment that serves haiku requests.')
param smallModel string

@description('BIG_MODEL_API: chat, responses or empty (automatic).')
param bigModelApi string = ''

@description('MIDDLE_MODEL_API: chat, responses or empty (automatic).')
param middleModelApi string = ''

@description('SMALL_MODEL_API: chat, responses or empty (automatic).')
param smallModelApi string = ''

@description('THINK_MODEL: deployment for requests that ask for thinking; empty = none.')
param thinkModel string = ''

@description('THINK_MODEL_API: chat, responses or empty (automatic).')
param thinkModelApi string = ''

@description('LONG_CONTEXT_MODEL: deployment for long requests; empty = none.')
param longContextModel string = ''

@description('LONG_CONTEXT_MODEL_API: chat, responses or empty (automatic).')
param longContextModelApi string = ''

@description('LONG_CONTEXT_THRESHOLD in input tokens.')
param longContextThreshold int = 60000

@description('REQUEST_TIMEOUT in seconds.')
param requestTimeoutSeconds int

@description('MAX_STREAM_SECONDS: a stream ends with an error event after this many seconds.')
param maxStreamSeconds int

@description('MAX_TOKENS_LIMIT: 0 = no cap.')
param maxTokensLimit int = 0

@description('MAX_REQUEST_BYTES: largest request body accepted; 0 = the bridge\'s default (32 MB).')
param maxRequestBytes int = 0

@description('ALLOWED_ORIGINS: origins whose browser scripts may call the bridge (CORS, answered by the bridge), or *; empty = none.')
param allowedOrigins string = ''

@description('Versionless URI of the Key Vault secret that holds ANTHROPIC_AUTH_TOKEN.')
param authTokenSecretUri string

@description('Versionless URI of the Key Vault secret that holds AZURE_OPENAI_API_KEY; empty = Entra ID (no key).')
param openAiKeySecretUri string = ''

// ----- the gateway: who may call, their keys and budgets

@description('CLIENT_AUTH: token (the shared token) or entra (Microsoft Entra ID sign-in and personal keys).')
@allowed([
  'token'
  'entra'
])
param clientAuth string = 'token'

@description('ENTRA_TENANT_ID: the tenant whose users may call.')
param entraTenantId string

@description('ENTRA_CLIENT_ID: the bridge\'s app registration (the tokens\' audience); empty with CLIENT_AUTH=token.')
param entraClientId string = ''

@description('ENTRA_AUTHORITY: the sign-in host of this cloud.')
param entraAuthority string

@description('ENTRA_REQUIRED_ROLE: an app role every person must have; empty = none.')
param entraRequiredRole string = ''

@description('ENTRA_ADMIN_ROLE: the app role of those who list and revoke anyone\'s personal keys; empty = nobody.')
param entraAdminRole string = ''

@description('ENTRA_AUTOMATION_ROLE: the app role that lets an application call with its own token; empty = no application.')
param entraAutomationRole string = ''

@description('PERSONAL_KEY_DAYS: days a personal key works.')
param personalKeyDays int = 30

@description('PERSONAL_KEY_SIGNIN_DAYS: a personal key works only while its owner signed in with Entra ID within this many days.')
param personalKeySignInDays int = 7

@description('BUDGET_DAILY_TOKENS: tokens per user per UTC day; empty = no limit.')
param budgetDailyTokens string = ''

@description('BUDGET_MONTHLY_TOKENS: tokens per user per calendar month; empty = no limit.')
param budgetMonthlyTokens string = ''

@description('BUDGET_OVERRIDES: budgets per app role or group.')
param budgetOverrides string = ''

@description('BUDGET_DAILY_USD: US dollars per user per UTC day; empty = no limit.')
param budgetDailyUsd string = ''

@description('BUDGET_MONTHLY_USD: US dollars per user per calendar month; empty = no limit.')
param budgetMonthlyUsd string = ''

@description('BUDGET_WARN_PERCENT: the warning threshold of a budget; empty = 80.')
param budgetWarnPercent string = ''

@description('PRICES: prices per deployment over the kept price table.')
param prices string = ''

@description('RATE_LIMIT_REQUESTS_PER_MINUTE: requests per user per minute; empty = no limit.')
param rateLimitRequestsPerMinute string = ''

@description('RATE_LIMIT_TOKENS_PER_MINUTE: tokens per user per minute; empty = no limit.')
param rateLimitTokensPerMinute string = ''

@description('MODEL_POLICY: model tiers per app role or group; empty = every tier.')
param modelPolicy string = ''

@description('USAGE_TABLE_ENDPOINT: table service that keeps personal keys and usage counters for every instance.')
param usageTableEndpoint string

@description('Versionless URI of the Key Vault secret that holds LOGIN_SIGNING_KEY (Claude Code\'s /login).')
param loginSigningKeySecretUri string

@description('LOGIN_TOKEN_MINUTES: minutes a /login access token works before Claude Code refreshes it through Entra ID.')
param loginTokenMinutes int = 60

@description('LOGIN_BASE_URL: the bridge\'s custom domain as https://<host>, for /login; empty = the host each request came to.')
param loginBaseUrl string = ''

@description('MANAGED_SETTINGS: the Claude Code settings pushed to people per app role and group (infra/managed-settings.json).')
param managedSettings string = '[]'

// ----- telemetry and the daily reconciliation with Azure's bill

@description('RECONCILE_RESOURCE_IDS: the Azure OpenAI resources whose daily cost the reconciliation asks Cost Management for.')
param reconcileResourceIds string = ''

@description('RECONCILE_GAP_PERCENT: how far apart the bridge\'s daily cost and Azure\'s bill may be (percent of Azure\'s) before the reconciliation warns.')
param reconcileGapPercent int = 5

@description('AZURE_MANAGEMENT_URL: this cloud\'s Resource Manager (Cost Management\'s API).')
param managementUrl string = ''

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

var bridgeSettings = {
  AZURE_OPENAI_ENDPOINT: openAiEndpoint
  AZURE_OPENAI_API_VERSION: openAiApiVersion
  AZURE_CLIENT_ID: identityClientId
  BIG_MODEL: bigModel
  MIDDLE_MODEL: middleModel
  SMALL_MODEL: smallModel
  BIG_MODEL_API: bigModelApi
  MIDDLE_MODEL_API: middleModelApi
  SMALL_MODEL_API: smallModelApi
  THINK_MODEL: thinkModel
  THINK_MODEL_API: thinkModelApi
  LONG_CONTEXT_MODEL: longContextModel
  LONG_CONTEXT_MODEL_API: longContextModelApi
  LONG_CONTEXT_THRESHOLD: string(longContextThreshold)
  REQUEST_TIMEOUT: string(requestTimeoutSeconds)
  MAX_STREAM_SECONDS: string(maxStreamSeconds)
  HEARTBEAT_SECONDS: '10'
  MAX_TOKENS_LIMIT: (maxTokensLimit > 0) ? string(maxTokensLimit) : ''
  MAX_REQUEST_BYTES: (maxRequestBytes > 0) ? string(maxRequestBytes) : ''
  ALLOWED_ORIGINS: allowedOrigins
  ANTHROPIC_AUTH_TOKEN: '@Microsoft.KeyVault(SecretUri=${authTokenSecretUri})'
  CLIENT_AUTH: clientAuth
  ENTRA_TENANT_ID: entraTenantId
  ENTRA_CLIENT_ID: entraClientId
  ENTRA_AUTHORITY: entraAuthority
  ENTRA_REQUIRED_ROLE: entraRequiredRole
  ENTRA_ADMIN_ROLE: entraAdminRole
  ENTRA_AUTOMATION_ROLE: entraAutomationRole
  PERSONAL_KEY_DAYS: string(personalKeyDays)
  PERSONAL_KEY_SIGNIN_DAYS: string(personalKeySignInDays)
  BUDGET_DAILY_TOKENS: budgetDailyTokens
  BUDGET_MONTHLY_TOKENS: budgetMonthlyTokens
  BUDGET_OVERRIDES: budgetOverrides
  BUDGET_DAILY_USD: budgetDailyUsd
  BUDGET_MONTHLY_USD: budgetMonthlyUsd
  BUDGET_WARN_PERCENT: budgetWarnPercent
  PRICES: prices
  RATE_LIMIT_REQUESTS_PER_MINUTE: rateLimitRequestsPerMinute
  RATE_LIMIT_TOKENS_PER_MINUTE: rateLimitTokensPerMinute
  MODEL_POLICY: modelPolicy
  USAGE_TABLE_ENDPOINT: usageTableEndpoint
  RECONCILE_RESOURCE_IDS: reconcileResourceIds
  RECONCILE_GAP_PERCENT: string(reconcileGapPercent)
  AZURE_MANAGEMENT_URL: managementUrl
  LOGIN_SIGNING_KEY: '@Microsoft.KeyVault(SecretUri=${loginSigningKeySecretUri})'
  LOGIN_TOKEN_MINUTES: string(loginTokenMinutes)
  LOGIN_BASE_URL: loginBaseUrl
  MANAGED_SETTINGS: managedSettings
}

var apiKeySettings = empty(openAiKeySecretUri) ? {} : {
  AZURE_OPENAI_API_KEY: '@Microsoft.KeyVault(SecretUri=${openAiKeySecretUri})'
}

var hostSettings = {
  AzureWebJobsStorage__accountName: storageAccountName
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // The worker hands the host's trace context to the bridge's spans (host.json telemetryMode OpenTelemetry);
  // the bridge sets up its own exporter (bridge/telemetry/setup.py), so PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY
  // stays unset (it would configure the azure-monitor-opentelemetry distro, which is not installed).
  PYTHON_ENABLE_OPENTELEMETRY: 'true'
  // Azure Monitor's exporter sends only telemetry: no SDK usage statistics to Microsoft, no polling of its
  // configuration service, so the app's only outbound calls stay ingestion, Entra ID and Azure OpenAI.
  APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL: 'true'
  APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED: 'true'
  // Required for HTTP streaming (azurefunctions-extensions-http-fastapi) on Python up to 3.12.
  PYTHON_ENABLE_INIT_INDEXING: '1'
}

var appSettings = union(hostSettings, bridgeSettings, apiKeySettings)

// Inbound: an allow rule per range, then an implicit deny; no ranges = open to every address.
var restrictInbound = !empty(allowedIpRanges)
var accessRules = [for (range, i) in allowedIpRanges: {
  name: 'allowed-${i + 1}'
  description: 'ALLOWED_IP_RANGES'
  ipAddress: range
  action: 'Allow'
  priority: 100 + i
}]
var integrated = !empty(virtualNetworkSubnetId)

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    virtualNetworkSubnetId: integrated ? virtualNetworkSubnetId : null
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      // A Linux app reaches private endpoints (and resolves Key Vault references through them) only
      // when all its outbound traffic goes into the virtual network.
      vnetRouteAllEnabled: integrated
      ipSecurityRestrictions: accessRules
      ipSecurityRestrictionsDefaultAction: restrictInbound ? 'Deny' : 'Allow'
      scmIpSecurityRestrictionsUseMain: true
      scmIpSecurityRestrictionsDefaultAction: restrictInbound ? 'Deny' : 'Allow'
      // The platform's CORS stays off: it would answer in front of the worker and take precedence over the
      // bridge's own (ALLOWED_ORIGINS, bridge/cors.py), which also exposes the response headers SDKs read.
      cors: {
        allowedOrigins: []
        supportCredentials: false
      }
      appSettings: [for setting in items(appSettings): {
        name: setting.key
        value: setting.value
      }]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        triggers: {
          http: {
            perInstanceConcurrency: httpPerInstanceConcurrency
          }
        }
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
  }
}

// No FTP or SCM user names and passwords: azd, the Azure CLI and the portal publish with Microsoft Entra ID.
// One at a time: both change the same site.
@batchSize(1)
resource publishingCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = [for policy in [
  'ftp'
  'scm'
]: {
  parent: app
  name: policy
  properties: {
    allow: false
  }
}]

// The Functions host's own log (function starts, failures, host errors): FunctionAppLogs in the workspace.
resource appLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'logs-to-log-analytics'
  scope: app
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        category: 'FunctionAppLogs'
        enabled: true
      }
    ]
  }
}

output name string = app.name
output id string = app.id
output defaultHostName string = app.properties.defaultHostName
output url string = 'https://${app.properties.defaultHostName}'

// claude-azure-bridge: everything `azd up` creates.
// Subscription scope: creates the resource group, then one module per job.
// Plain resource declarations only (no registry modules), so the files parse offline.

targetScope = 'subscription'

// ===== Environment ==========================================================

@minLength(1)
@maxLength(64)
@description('Name of the azd environment (AZURE_ENV_NAME); names the resource group and seeds every resource name.')
param environmentName string

@minLength(1)
@metadata({
  azd: {
    type: 'location'
  }
})
@description('Region of the Function App and its resources; pick one that offers Flex Consumption.')
param location string

@description('Resource group to create; empty = rg-<environmentName>.')
param resourceGroupName string = ''

@description('Object id of the user or service principal running azd (AZURE_PRINCIPAL_ID). It gets Cognitive Services OpenAI User (so `func start` works after `az login`, with no key) and Key Vault Secrets Officer (to read and rotate the token). Empty = nobody.')
param principalId string = ''

// ===== Function App (Flex Consumption) ======================================

@description('Python version of the Function App.')
@allowed([
  '3.11'
  '3.12'
])
param pythonVersion string = '3.11'

// The three defaults below come from measurement (python -m bench.sizing): the reasoning is with the
// same parameters in functionapp.bicep, and in docs/deploy.md ("Cost and sizing").
@description('Memory of each instance, in MB. It sets the CPU too: 512 MB get a quarter of a core, 2048 MB one core, 4096 MB two.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Maximum number of instances the app scales out to: with 100 requests per instance, 20 hold 2,000 streams at once and cap what a flood of requests can cost (about USD 3.70 an hour).')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 20

@description('HTTP requests one instance serves at once. The bridge mostly waits on Azure OpenAI, so one instance can hold many streams.')
@minValue(1)
@maxValue(1000)
param httpPerInstanceConcurrency int = 100

// ===== Network and security ===================================================

@description('VNET_ENABLED: private networking. A virtual network, the Function App integrated with it, private endpoints and private DNS zones for Azure OpenAI, Key Vault and storage (blob, queue, table), and public network access off for the Azure OpenAI resource this deployment creates, Key Vault and storage. The Function App itself stays reachable (see ALLOWED_IP_RANGES).')
param vnetEnabled bool = false

@description('VNET_ADDRESS_PREFIX: address space of the virtual network, a /23 or larger; the bridge uses its first two /24s (app subnet, private endpoints). Only with VNET_ENABLED.')
param vnetAddressPrefix string = '10.0.0.0/16'

@description('ALLOWED_IP_RANGES: client address ranges allowed to call the Function App and its SCM site (deployments), comma- or space-separated; a bare address means /32 (/128 for IPv6). Empty = every address.')
param allowedIpRanges string = ''

@description('ALLOWED_ORIGINS: web pages (origins such as https://chat.example.com) whose scripts may call the bridge from a browser, comma-separated, or * for any page. Empty = none. The bridge answers CORS itself (bridge/serving/cors.py); the platform\'s CORS stays off.')
param allowedOrigins string = ''

@description('KEY_VAULT_PURGE_PROTECTION: `true` keeps a deleted vault and its secrets recoverable for 7 days and impossible to purge, also by `azd down --purge`. Irreversible for the vault.')
param keyVaultPurgeProtection bool = false

// ===== Azure OpenAI ==========================================================

@description('Resource id of an existing Azure OpenAI resource, in any resource group or subscription (/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.CognitiveServices/accounts/<name>). Empty = create a new resource with the deployments BIG_MODEL and SMALL_MODEL.')
param existingOpenAiResourceId string = ''

@description('Region of a new Azure OpenAI resource; empty = AZURE_LOCATION. Must offer the models and SKU of BIG_MODEL_NAME and SMALL_MODEL_NAME.')
param openAiLocation string = ''

@description('How the bridge authenticates to Azure OpenAI: entra (managed identity, no key; a new resource gets key auth disabled) or key (key1 of the resource is copied into Key Vault and reaches the app as AZURE_OPENAI_API_KEY).')
@allowed([
  'entra'
  'key'
])
param openAiAuthMode string = 'entra'

@description('AZURE_OPENAI_API_VERSION: empty (or v1) uses the v1 API; a dated version such as 2024-10-21 uses the deployments API.')
param openAiApiVersion string = ''

@description('BIG_MODEL: deployment that serves opus requests.')
param bigModel string = 'gpt-5'

@description('MIDDLE_MODEL: deployment that serves sonnet requests; empty = BIG_MODEL.')
param middleModel string = ''

@description('SMALL_MODEL: deployment that serves haiku requests.')
param smallModel string = 'gpt-5-mini'

@description('BIG_MODEL_API: chat, responses, or empty for automatic.')
@allowed([
  ''
  'chat'
  'responses'
])
param bigModelApi string = ''

@description('MIDDLE_MODEL_API: chat, responses, or empty for automatic.')
@allowed([
  ''
  'chat'
  'responses'
])
param middleModelApi string = ''

@description('THINK_MODEL: optional deployment for requests that ask for thinking; empty = none.')
param thinkModel string = ''

@description('THINK_MODEL_API: chat, responses, or empty for automatic.')
@allowed([
  ''
  'chat'
  'responses'
])
param thinkModelApi string = ''

@description('LONG_CONTEXT_MODEL: optional deployment for requests above LONG_CONTEXT_THRESHOLD input tokens; empty = none.')
param longContextModel string = ''

@description('LONG_CONTEXT_MODEL_API: chat, responses, or empty for automatic.')
@allowed([
  ''
  'chat'
  'responses'
])
param longContextModelApi string = ''

@description('LONG_CONTEXT_THRESHOLD: input tokens above which LONG_CONTEXT_MODEL serves.')
param longContextThreshold int = 60000

@description('SMALL_MODEL_API: chat, responses, or empty for automatic.')
@allowed([
  ''
  'chat'
  'responses'
])
param smallModelApi string = ''

@description('New resource only: model behind the BIG_MODEL deployment.')
param bigModelName string = 'gpt-5'

@description('New resource only: version of that model.')
param bigModelVersion string = '2025-08-07'

@description('New resource only: capacity of the BIG_MODEL deployment, in thousands of tokens per minute.')
@minValue(1)
param bigModelCapacity int = 50

@description('New resource only: model behind the SMALL_MODEL deployment (not deployed twice when SMALL_MODEL = BIG_MODEL).')
param smallModelName string = 'gpt-5-mini'

@description('New resource only: version of that model.')
param smallModelVersion string = '2025-08-07'

@description('New resource only: capacity of the SMALL_MODEL deployment, in thousands of tokens per minute.')
@minValue(1)
param smallModelCapacity int = 50

@description('New resource only: SKU of the model deployments (GlobalStandard, DataZoneStandard, Standard, ...).')
param modelDeploymentSku string = 'GlobalStandard'

// ===== Bridge behaviour ======================================================

@description('MAX_STREAM_SECONDS: a stream ends with a clear error event after this many seconds, before Azure\'s front end cuts the response at about 230 s.')
@minValue(1)
param maxStreamSeconds int = 220

@description('REQUEST_TIMEOUT: seconds a request may take end to end, retries included. Below 230 s so a non-streamed answer fails with the bridge\'s own error instead of a front-end cut.')
@minValue(1)
param requestTimeoutSeconds int = 225

@description('MAX_TOKENS_LIMIT: upper bound applied to every request\'s max_tokens; 0 = no cap.')
@minValue(0)
param maxTokensLimit int = 0

@description('MAX_REQUEST_BYTES: largest request body accepted, in bytes; 0 = the bridge\'s default (32 MB).')
@minValue(0)
param maxRequestBytes int = 0

@description('Input window, in tokens, of the deployment behind Claude Code\'s default model (opus, BIG_MODEL); printed as CLAUDE_CODE_AUTO_COMPACT_WINDOW. 272000 for gpt-5.')
@minValue(1)
param defaultContextWindow int = 272000

// ===== Sign-in, personal keys, budgets (the gateway) ===========================

@description('CLIENT_AUTH: token (one shared token, kept in Key Vault) or entra (each developer signs in with Microsoft Entra ID; azd up registers the bridge in Entra ID, which needs the right to register applications).')
@allowed([
  'token'
  'entra'
])
param clientAuth string = 'token'

@description('ENTRA_APP_ROLE_REQUIRED: `true`: with CLIENT_AUTH=entra, only users and groups assigned the app role Bridge.User get a token for the bridge (whoever runs azd up is assigned); false = every user of the tenant.')
param entraAppRoleRequired bool = false

@description('PERSONAL_KEY_DAYS: days a personal key (for Cursor) works before it lapses.')
@minValue(1)
param personalKeyDays int = 30

@description('PERSONAL_KEY_SIGNIN_DAYS: a personal key works only while its owner has signed in with Entra ID within this many days.')
@minValue(1)
param personalKeySignInDays int = 7

@description('BUDGET_DAILY_TOKENS: tokens (input, cached included, plus output) per user per UTC day, e.g. 2M; empty = no limit.')
param budgetDailyTokens string = ''

@description('BUDGET_MONTHLY_TOKENS: tokens per user per calendar month, e.g. 40M; empty = no limit.')
param budgetMonthlyTokens string = ''

@description('BUDGET_OVERRIDES: budgets per app role or group, e.g. role:Bridge.Lead=daily:10M,monthly:200M,daily_usd:50,monthly_usd:800;group:<object id>=daily:unlimited.')
param budgetOverrides string = ''

@description('BUDGET_DAILY_USD: US dollars per user per UTC day at each deployment\'s price, e.g. 20; empty = no limit.')
param budgetDailyUsd string = ''

@description('BUDGET_MONTHLY_USD: US dollars per user per calendar month, e.g. 400; empty = no limit.')
param budgetMonthlyUsd string = ''

@description('BUDGET_WARN_PERCENT: past this percentage of a budget, answers carry x-bridge-budget-warning; empty = 80.')
param budgetWarnPercent string = ''

@description('PRICES: prices per deployment in USD per million tokens over the kept price table, e.g. gpt-5=model:gpt-5*1.1 for a Data Zone deployment; empty = the table\'s Global prices.')
param prices string = ''

@description('RATE_LIMIT_REQUESTS_PER_MINUTE: requests per user per minute, every instance together; empty = no limit.')
param rateLimitRequestsPerMinute string = ''

@description('RATE_LIMIT_TOKENS_PER_MINUTE: tokens per user per minute, e.g. 400k; empty = no limit.')
param rateLimitTokensPerMinute string = ''

@description('MODEL_POLICY: model tiers per app role or group, e.g. role:Bridge.Lead=opus,sonnet,haiku;default=sonnet,haiku; empty = every tier.')
param modelPolicy string = ''

// ===== Alerts ================================================================

@description('ALERT_EMAIL: who gets the bridge\'s alerts by email (daily cost, budgets, Azure OpenAI errors, the app not serving, the bill gap); empty = the alerts show in the portal only.')
param alertEmail string = ''

@description('ALERT_DAILY_COST_USD: the organization\'s daily cost in US dollars, as the bridge charges it, that raises an alert.')
@minValue(1)
param alertDailyCostUsd int = 100

@description('ALERT_UPSTREAM_ERROR_PERCENT: the share of requests failing at Azure OpenAI (429s, 5xx, broken streams) over 15 minutes that raises an alert.')
@minValue(1)
@maxValue(100)
param alertUpstreamErrorPercent int = 10

@description('ALERT_RECONCILE_GAP_PERCENT: how far apart the bridge\'s daily cost and Azure\'s bill for the Azure OpenAI resource may be before an alert.')
@minValue(1)
@maxValue(100)
param alertReconcileGapPercent int = 5

// ===== Claude Code's /login ==================================================

@description('LOGIN_HOST_NAME: the custom domain developers reach the bridge at (bound to the Function App with its own certificate), for Claude Code\'s /login: its redirect URI is registered and LOGIN_BASE_URL set. Empty = the Function App\'s own host name.')
param loginHostName string = ''

@description('LOGIN_TOKEN_MINUTES: minutes a /login access token works; then Claude Code refreshes it through Entra ID.')
@minValue(5)
param loginTokenMinutes int = 60

// ===== Client token ==========================================================

@secure()
@description('ANTHROPIC_AUTH_TOKEN chosen by the user (azd env set ANTHROPIC_AUTH_TOKEN ...). Empty = use generatedAuthToken.')
param anthropicAuthToken string = ''

@secure()
@description('A new random token on every deployment; written to Key Vault only when the vault does not hold the token yet (see provisionedKeyVaultName).')
param generatedAuthToken string = newGuid()

@secure()
@description('A new random LOGIN_SIGNING_KEY on every deployment (three GUIDs: 366 random bits); written to Key Vault only when the vault does not hold one yet (see provisionedLoginSigningKey).')
param generatedLoginSigningKey string = '${newGuid()}${newGuid()}${newGuid()}'

@description('LOGIN_SIGNING_KEY_SECRET_NAME from the previous provision of this azd environment: when the vault is the same and it names the secret, the vault holds the key already and it is left as it is (also when rotated since).')
param provisionedLoginSigningKey string = ''

@description('AZURE_KEY_VAULT_NAME from the previous provision of this azd environment (azd removes it on `azd down`). When it names this deployment\'s vault, the vault already holds the token, and the token is left as it is (also when rotated since); otherwise a token is written. Nobody reads the secret back, so this works when the vault is private.')
param provisionedKeyVaultName string = ''

// ===== Names =================================================================

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var names = {
  identity: 'id-${resourceToken}'
  storage: 'st${resourceToken}'
  logAnalytics: 'log-${resourceToken}'
  appInsights: 'appi-${resourceToken}'
  keyVault: 'kv-${resourceToken}'
  plan: 'plan-${resourceToken}'
  functionApp: 'func-${resourceToken}'
  openAi: 'oai-${resourceToken}'
  vnet: 'vnet-${resourceToken}'
  networkSecurityGroup: 'nsg-${resourceToken}'
  appSubnet: 'snet-app'
  privateEndpointSubnet: 'snet-private-endpoints'
}
var deploymentContainerName = 'deployment-package'
// The bridge's tables (personal keys, usage counters, /login's sign-ins: bridge/gateway), in the app's storage account.
var bridgeTables = [
  'bridgekeys'
  'bridgeusage'
  'bridgelogin'
]
var useEntra = clientAuth == 'entra'
var entraAppName = 'claude-azure-bridge-${environmentName}-${resourceToken}'
var entraAppDisplayName = 'claude-azure-bridge (${environmentName})'
var entraAppRole = 'Bridge.User'
var entraAdminRole = 'Bridge.Admin'
var entraAutomationRole = 'Bridge.Automation'
var authTokenSecretName = 'anthropic-auth-token'
var openAiKeySecretName = 'azure-openai-api-key'
var loginSigningKeySecretName = 'login-signing-key'
// A generated key is written into a new vault, or one that never held it (a deployment from before /login).
var writeLoginSigningKey = (provisionedKeyVaultName != names.keyVault) || (provisionedLoginSigningKey != loginSigningKeySecretName)
var loginBaseUrl = empty(loginHostName) ? '' : 'https://${loginHostName}'
// MANAGED_SETTINGS: the Claude Code settings pushed per app role and group, from the deployment's own file (read
// when `azd up` compiles this template; malformed JSON fails the compile), compacted into one line.
var managedSettings = string(loadJsonContent('managed-settings.json'))
var authToken = empty(anthropicAuthToken) ? generatedAuthToken : anthropicAuthToken
// The token the user chose is written on every provision; a generated one only into a vault that has none yet.
var writeAuthToken = (!empty(anthropicAuthToken)) || (provisionedKeyVaultName != names.keyVault)

// An existing Azure OpenAI resource is addressed by its id, anywhere.
var useExistingOpenAi = !empty(existingOpenAiResourceId)
var existingOpenAiParts = split(existingOpenAiResourceId, '/')
var openAiSubscriptionId = useExistingOpenAi ? existingOpenAiParts[2] : subscription().subscriptionId
var openAiResourceGroupName = useExistingOpenAi ? existingOpenAiParts[4] : rg.name
var openAiName = useExistingOpenAi ? last(existingOpenAiParts) : names.openAi
var useOpenAiKey = openAiAuthMode == 'key'
var openAiResourceId = useExistingOpenAi ? existingOpenAiResourceId : resourceId(openAiSubscriptionId, openAiResourceGroupName, 'Microsoft.CognitiveServices/accounts', openAiName)

// Client ranges allowed in: comma- or space-separated; a bare address is one host.
var allowedIpRangeList = map(filter(split(replace(allowedIpRanges, ' ', ','), ','), range => !empty(range)), range => contains(range, '/') ? range : (contains(range, ':') ? '${range}/128' : '${range}/32'))

// Private networking: one private endpoint per service the app calls, each with the private DNS
// zones that map the service's public host name to the endpoint inside the virtual network.
// Storage gets blob (host storage, deployment package), queue and table (the host, and tables the bridge may keep).
var privateDnsZones = {
  openAi: 'privatelink.openai.azure.com'
  cognitiveServices: 'privatelink.cognitiveservices.azure.com'
  keyVault: 'privatelink.vaultcore.azure.net'
  blob: 'privatelink.blob.core.windows.net'
  queue: 'privatelink.queue.core.windows.net'
  table: 'privatelink.table.core.windows.net'
}
var storageAccountId = resourceId(subscription().subscriptionId, rg.name, 'Microsoft.Storage/storageAccounts', names.storage)
var keyVaultId = resourceId(subscription().subscriptionId, rg.name, 'Microsoft.KeyVault/vaults', names.keyVault)
var privateEndpointTargets = [
  {
    service: 'openai'
    targetId: openAiResourceId
    groupId: 'account'
    dnsZones: [
      privateDnsZones.openAi
      privateDnsZones.cognitiveServices
    ]
  }
  {
    service: 'vault'
    targetId: keyVaultId
    groupId: 'vault'
    dnsZones: [
      privateDnsZones.keyVault
    ]
  }
  {
    service: 'blob'
    targetId: storageAccountId
    groupId: 'blob'
    dnsZones: [
      privateDnsZones.blob
    ]
  }
  {
    service: 'queue'
    targetId: storageAccountId
    groupId: 'queue'
    dnsZones: [
      privateDnsZones.queue
    ]
  }
  {
    service: 'table'
    targetId: storageAccountId
    groupId: 'table'
    dnsZones: [
      privateDnsZones.table
    ]
  }
]
var appSubnetId = resourceId(subscription().subscriptionId, rg.name, 'Microsoft.Network/virtualNetworks/subnets', names.vnet, names.appSubnet)
var privateEndpointSubnetId = resourceId(subscription().subscriptionId, rg.name, 'Microsoft.Network/virtualNetworks/subnets', names.vnet, names.privateEndpointSubnet)

var middleDeployment = empty(middleModel) ? bigModel : middleModel
var bigModelDeployment = {
  name: bigModel
  model: bigModelName
  version: bigModelVersion
  sku: modelDeploymentSku
  capacity: bigModelCapacity
}
var smallModelDeployment = {
  name: smallModel
  model: smallModelName
  version: smallModelVersion
  sku: modelDeploymentSku
  capacity: smallModelCapacity
}
var modelDeployments = (smallModel == bigModel) ? [
  bigModelDeployment
] : [
  bigModelDeployment
  smallModelDeployment
]

// ===== Resources =============================================================

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: names.identity
    location: location
    tags: tags
  }
}

module monitoring 'monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: names.logAnalytics
    appInsightsName: names.appInsights
    location: location
    tags: tags
    identityPrincipalId: identity.outputs.principalId
  }
}

module workbook 'workbook.bicep' = {
  name: 'workbook'
  scope: rg
  params: {
    location: location
    tags: tags
    appInsightsId: monitoring.outputs.appInsightsId
    workspaceId: monitoring.outputs.logAnalyticsId
  }
}

module alerts 'alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    location: location
    tags: tags
    alertEmail: alertEmail
    workspaceId: monitoring.outputs.logAnalyticsId
    appInsightsId: monitoring.outputs.appInsightsId
    functionAppUrl: functionApp.outputs.url
    availabilityTest: empty(allowedIpRangeList)
    dailyCostUsd: alertDailyCostUsd
    upstreamErrorPercent: alertUpstreamErrorPercent
    reconcileGapPercent: alertReconcileGapPercent
  }
}

module storage 'storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: names.storage
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    tableNames: bridgeTables
    identityPrincipalId: identity.outputs.principalId
    privateNetworking: vnetEnabled
  }
}

// CLIENT_AUTH=entra: the bridge's app registration (Microsoft Graph Bicep; see entra-app.bicep).
module entraApp 'entra-app.bicep' = if (useEntra) {
  name: 'entra-app'
  scope: rg
  params: {
    uniqueName: entraAppName
    displayName: entraAppDisplayName
    appRole: entraAppRole
    adminRole: entraAdminRole
    automationRole: entraAutomationRole
  }
}

module entraApi 'entra-api.bicep' = if (useEntra) {
  name: 'entra-api'
  scope: rg
  params: {
    uniqueName: entraAppName
    displayName: entraAppDisplayName
    clientId: entraApp.outputs.clientId
    api: entraApp.outputs.api
    appRoleId: entraApp.outputs.appRoleId
    appRoleRequired: entraAppRoleRequired
    principalId: principalId
  }
}

module keyVault 'keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: names.keyVault
    location: location
    tags: tags
    identityPrincipalId: identity.outputs.principalId
    principalId: principalId
    authTokenSecretName: authTokenSecretName
    authToken: authToken
    writeAuthToken: writeAuthToken
    loginSigningKeySecretName: loginSigningKeySecretName
    loginSigningKey: generatedLoginSigningKey
    writeLoginSigningKey: writeLoginSigningKey
    privateNetworking: vnetEnabled
    purgeProtection: keyVaultPurgeProtection
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsId
  }
}

module openAi 'openai.bicep' = if (!useExistingOpenAi) {
  name: 'openai'
  scope: rg
  params: {
    name: names.openAi
    location: empty(openAiLocation) ? location : openAiLocation
    tags: tags
    allowKeyAuth: useOpenAiKey
    deployments: modelDeployments
    privateNetworking: vnetEnabled
  }
}

// Scoped to the resource group of the Azure OpenAI resource (new or existing).
module openAiRoles 'openai-roles.bicep' = {
  name: 'openai-roles-${resourceToken}'
  scope: resourceGroup(openAiSubscriptionId, openAiResourceGroupName)
  params: {
    openAiName: openAiName
    identityPrincipalId: identity.outputs.principalId
    principalId: principalId
  }
  dependsOn: [
    rg
    openAi
  ]
}

// Cost Management Reader where the Azure OpenAI resource is, for the daily reconciliation with Azure's bill.
module costReader 'cost-reader.bicep' = {
  name: 'cost-reader-${resourceToken}'
  scope: resourceGroup(openAiSubscriptionId, openAiResourceGroupName)
  params: {
    identityPrincipalId: identity.outputs.principalId
  }
  dependsOn: [
    rg
  ]
}

module openAiKeySecret 'openai-key-secret.bicep' = if (useOpenAiKey) {
  name: 'openai-key-secret'
  scope: rg
  params: {
    keyVaultName: keyVault.outputs.name
    openAiSubscriptionId: openAiSubscriptionId
    openAiResourceGroupName: openAiResourceGroupName
    openAiName: openAiName
    secretName: openAiKeySecretName
  }
  dependsOn: [
    openAi
  ]
}

module functionApp 'functionapp.bicep' = {
  name: 'functionapp'
  scope: rg
  params: {
    name: names.functionApp
    planName: names.plan
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: storage.outputs.deploymentContainerName
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsId
    virtualNetworkSubnetId: vnetEnabled ? appSubnetId : ''
    allowedIpRanges: allowedIpRangeList
    pythonVersion: pythonVersion
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    httpPerInstanceConcurrency: httpPerInstanceConcurrency
    openAiEndpoint: openAiRoles.outputs.endpoint
    openAiApiVersion: openAiApiVersion
    bigModel: bigModel
    middleModel: middleDeployment
    smallModel: smallModel
    bigModelApi: bigModelApi
    middleModelApi: middleModelApi
    smallModelApi: smallModelApi
    thinkModel: thinkModel
    thinkModelApi: thinkModelApi
    longContextModel: longContextModel
    longContextModelApi: longContextModelApi
    longContextThreshold: longContextThreshold
    requestTimeoutSeconds: requestTimeoutSeconds
    maxStreamSeconds: maxStreamSeconds
    maxTokensLimit: maxTokensLimit
    maxRequestBytes: maxRequestBytes
    allowedOrigins: allowedOrigins
    authTokenSecretUri: keyVault.outputs.authTokenSecretUri
    openAiKeySecretUri: useOpenAiKey ? '${keyVault.outputs.uri}secrets/${openAiKeySecretName}' : ''
    clientAuth: clientAuth
    entraTenantId: tenant().tenantId
    entraClientId: useEntra ? entraApi.outputs.clientId : ''
    entraAuthority: environment().authentication.loginEndpoint
    entraRequiredRole: (useEntra && entraAppRoleRequired) ? entraAppRole : ''
    entraAdminRole: useEntra ? entraAdminRole : ''
    entraAutomationRole: useEntra ? entraAutomationRole : ''
    personalKeyDays: personalKeyDays
    personalKeySignInDays: personalKeySignInDays
    budgetDailyTokens: budgetDailyTokens
    budgetMonthlyTokens: budgetMonthlyTokens
    budgetOverrides: budgetOverrides
    budgetDailyUsd: budgetDailyUsd
    budgetMonthlyUsd: budgetMonthlyUsd
    budgetWarnPercent: budgetWarnPercent
    prices: prices
    rateLimitRequestsPerMinute: rateLimitRequestsPerMinute
    rateLimitTokensPerMinute: rateLimitTokensPerMinute
    modelPolicy: modelPolicy
    usageTableEndpoint: storage.outputs.tableEndpoint
    reconcileResourceIds: openAiResourceId
    reconcileGapPercent: alertReconcileGapPercent
    managementUrl: environment().resourceManager
    loginSigningKeySecretUri: keyVault.outputs.loginSigningKeySecretUri
    loginTokenMinutes: loginTokenMinutes
    loginBaseUrl: loginBaseUrl
    managedSettings: managedSettings
  }
  dependsOn: [
    openAiKeySecret
    network
    privateEndpoints
  ]
}

// CLIENT_AUTH=entra, Claude Code's /login: the redirect URI (the Function App's URL, and LOGIN_HOST_NAME's) and the
// federated credential of the app's managed identity, on the registration, once the app and its URL exist.
module entraLogin 'entra-login.bicep' = if (useEntra) {
  name: 'entra-login'
  scope: rg
  params: {
    uniqueName: entraAppName
    displayName: entraAppDisplayName
    clientId: entraApi.outputs.clientId
    scopeId: entraApp.outputs.scopeId
    baseUrls: empty(loginHostName) ? [
      functionApp.outputs.url
    ] : [
      functionApp.outputs.url
      loginBaseUrl
    ]
    identityPrincipalId: identity.outputs.principalId
    issuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
  }
}

// ===== Private networking (VNET_ENABLED) =======================================

module network 'network.bicep' = if (vnetEnabled) {
  name: 'network'
  scope: rg
  params: {
    name: names.vnet
    securityGroupName: names.networkSecurityGroup
    location: location
    tags: tags
    addressPrefix: vnetAddressPrefix
    appSubnetName: names.appSubnet
    privateEndpointSubnetName: names.privateEndpointSubnet
    dnsZoneNames: map(items(privateDnsZones), zone => zone.value)
  }
}

// In the bridge's virtual network, also for an existing Azure OpenAI resource elsewhere. None without VNET_ENABLED.
module privateEndpoints 'private-endpoint.bicep' = [for target in (vnetEnabled ? privateEndpointTargets : []): {
  name: 'private-endpoint-${target.service}'
  scope: rg
  params: {
    name: 'pe-${target.service}-${resourceToken}'
    location: location
    tags: tags
    subnetId: privateEndpointSubnetId
    targetId: target.targetId
    groupId: target.groupId
    dnsZoneNames: target.dnsZones
  }
  dependsOn: [
    network
    openAi
    keyVault
    storage
  ]
}]

// ===== Outputs (azd stores them in the environment; the postprovision hook prints them) =====

output AZURE_LOCATION string = location
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_URL string = functionApp.outputs.url
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_ENDPOINT string = keyVault.outputs.uri
output ANTHROPIC_AUTH_TOKEN_SECRET_NAME string = keyVault.outputs.authTokenSecretName
output LOGIN_SIGNING_KEY_SECRET_NAME string = keyVault.outputs.loginSigningKeySecretName
output AZURE_OPENAI_ENDPOINT string = openAiRoles.outputs.endpoint
output AZURE_OPENAI_NAME string = openAiName
output AZURE_APPLICATION_INSIGHTS_NAME string = monitoring.outputs.appInsightsName
output BRIDGE_DEPLOYMENTS string = join(union([
  bigModel
  middleDeployment
  smallModel
], []), ',')
output CLAUDE_CODE_AUTO_COMPACT_WINDOW int = defaultContextWindow
output AZURE_VNET_NAME string = vnetEnabled ? names.vnet : ''
output AZURE_FUNCTION_ALLOWED_IP_RANGES string = join(allowedIpRangeList, ',')
output CLIENT_AUTH string = clientAuth
output ENTRA_TENANT_ID string = tenant().tenantId
output ENTRA_CLIENT_ID string = useEntra ? entraApi.outputs.clientId : ''

// Key Vault (RBAC) holding the bridge's client token and the key of its /login tokens. The app reads it as a
// Key Vault reference through its managed identity (Key Vault Secrets User);
// the deploying user may read and rotate it (Key Vault Secrets Officer).
// Every access is audited to the Log Analytics workspace (AuditEvent). With
// private networking, public network access is off: the app reaches the vault
// through its private endpoint, and ARM still writes the secret (control plane).

@description('Name of the Key Vault (3-24 characters).')
param name string

@description('Region of the vault.')
param location string

@description('Tags applied to the vault.')
param tags object = {}

@description('Principal id of the app\'s managed identity; gets Key Vault Secrets User.')
param identityPrincipalId string

@description('Object id of the deploying user or service principal; gets Key Vault Secrets Officer. Empty = nobody.')
param principalId string = ''

@description('Name of the secret that holds LOGIN_SIGNING_KEY, the key of the access tokens of Claude Code\'s /login.')
param loginSigningKeySecretName string = 'login-signing-key'

@secure()
@description('A new random LOGIN_SIGNING_KEY.')
param loginSigningKey string

@description('True writes loginSigningKey into its secret. False leaves the secret as it is (a later provision; possibly rotated since).')
param writeLoginSigningKey bool = true

@description('Name of the secret that holds ANTHROPIC_AUTH_TOKEN.')
param authTokenSecretName string = 'anthropic-auth-token'

@secure()
@description('The token clients must present (ANTHROPIC_AUTH_TOKEN).')
param authToken string

@description('True writes authToken into the secret. False leaves the secret as it is: the vault already holds the token (a later provision), possibly rotated since.')
param writeAuthToken bool = true

@description('True (VNET_ENABLED): public network access off; only the private endpoint reaches the vault.')
param privateNetworking bool = false

@description('True turns on purge protection: a deleted vault and its secrets stay recoverable for the retention period and nobody can purge them. Irreversible for this vault.')
param purgeProtection bool = false

@description('Resource id of the Log Analytics workspace that receives the audit events.')
param logAnalyticsWorkspaceId string

var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
var keyVaultSecretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    // Fixed when the vault is created.
    softDeleteRetentionInDays: 7
    // The API accepts only true, and never goes back: leave the property out to keep it off.
    enablePurgeProtection: purgeProtection ? true : null
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
    networkAcls: {
      bypass: privateNetworking ? 'None' : 'AzureServices'
      defaultAction: privateNetworking ? 'Deny' : 'Allow'
    }
  }
}

resource authTokenSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (writeAuthToken) {
  parent: vault
  name: authTokenSecretName
  properties: {
    value: authToken
    contentType: 'ANTHROPIC_AUTH_TOKEN of claude-azure-bridge'
    attributes: {
      enabled: true
    }
  }
}

resource loginSigningKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (writeLoginSigningKey) {
  parent: vault
  name: loginSigningKeySecretName
  properties: {
    value: loginSigningKey
    contentType: 'LOGIN_SIGNING_KEY of claude-azure-bridge (signs the access tokens of Claude Code /login)'
    attributes: {
      enabled: true
    }
  }
}

resource appSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, identityPrincipalId, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// principalType is left out on purpose: azd may run as a user or as a service principal.
resource deployerSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(principalId)) {
  name: guid(vault.id, principalId, keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficer)
    principalId: principalId
  }
}

// Who read or changed which secret, from where: AZKVAuditLogs in the workspace.
resource auditLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit-to-log-analytics'
  scope: vault
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logAnalyticsDestinationType: 'Dedicated'
    logs: [
      {
        category: 'AuditEvent'
        enabled: true
      }
    ]
  }
}

output name string = vault.name
output id string = vault.id
output uri string = vault.properties.vaultUri
output authTokenSecretName string = authTokenSecretName
// Versionless: the app always resolves the current version, also after a rotation.
output authTokenSecretUri string = '${vault.properties.vaultUri}secrets/${authTokenSecretName}'
output loginSigningKeySecretName string = loginSigningKeySecretName
output loginSigningKeySecretUri string = '${vault.properties.vaultUri}secrets/${loginSigningKeySecretName}'

// Key Vault (RBAC) holding the bridge's client token. The app reads it as a
// Key Vault reference through its managed identity (Key Vault Secrets User);
// the deploying user may read and rotate it (Key Vault Secrets Officer).

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

@description('Name of the secret that holds ANTHROPIC_AUTH_TOKEN.')
param authTokenSecretName string = 'anthropic-auth-token'

@secure()
@description('The token clients must present (ANTHROPIC_AUTH_TOKEN).')
param authToken string

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
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource authTokenSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
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

output name string = vault.name
output id string = vault.id
output uri string = vault.properties.vaultUri
output authTokenSecretName string = authTokenSecret.name
output authTokenSecretUri string = authTokenSecret.properties.secretUri

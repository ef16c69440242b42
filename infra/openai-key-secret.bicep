// Only with openAiAuthMode = key: copies key1 of the Azure OpenAI resource into
// the vault, so the app gets AZURE_OPENAI_API_KEY as a Key Vault reference and
// nobody copies a key around.

@description('Name of the Key Vault (in this module\'s resource group).')
param keyVaultName string

@description('Subscription of the Azure OpenAI resource.')
param openAiSubscriptionId string

@description('Resource group of the Azure OpenAI resource.')
param openAiResourceGroupName string

@description('Name of the Azure OpenAI resource.')
param openAiName string

@description('Name of the secret that holds AZURE_OPENAI_API_KEY.')
param secretName string = 'azure-openai-api-key'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' existing = {
  name: openAiName
  scope: resourceGroup(openAiSubscriptionId, openAiResourceGroupName)
}

resource apiKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: secretName
  properties: {
    value: account.listKeys().key1
    contentType: 'AZURE_OPENAI_API_KEY of claude-azure-bridge'
    attributes: {
      enabled: true
    }
  }
}

output secretName string = apiKeySecret.name
output secretUri string = apiKeySecret.properties.secretUri

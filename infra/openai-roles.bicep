// Cognitive Services OpenAI User on the Azure OpenAI resource, for the app's
// identity and for the deploying user (so `func start` works after `az login`).
// Deployed into the resource group of the Azure OpenAI resource, which may be
// another resource group or subscription when an existing resource is used.

@description('Name of the Azure OpenAI resource (in this module\'s resource group).')
param openAiName string

@description('Principal id of the app\'s managed identity.')
param identityPrincipalId string

@description('Object id of the deploying user or service principal. Empty = nobody.')
param principalId string = ''

var cognitiveServicesOpenAiUser = '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd'

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' existing = {
  name: openAiName
}

resource appOpenAiUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, identityPrincipalId, cognitiveServicesOpenAiUser)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', cognitiveServicesOpenAiUser)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// principalType is left out on purpose: azd may run as a user or as a service principal.
resource deployerOpenAiUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(principalId)) {
  name: guid(account.id, principalId, cognitiveServicesOpenAiUser)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', cognitiveServicesOpenAiUser)
    principalId: principalId
  }
}

output endpoint string = account.properties.endpoint

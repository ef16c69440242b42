// Cost Management Reader on the resource group of the Azure OpenAI resource, for the app's identity: the daily
// reconciliation (`python -m bridge reconcile`, the timer in function_app.py) asks Cost Management for that
// resource's actual cost. Cost Management answers at the resource group scope and above, never at a resource's
// own, so the role is the resource group's. Deployed into that resource group, which may be another resource
// group or subscription when an existing resource is used (as openai-roles.bicep).

@description('Principal id of the app\'s managed identity.')
param identityPrincipalId string

var costManagementReader = '72fafb9e-0641-4937-9268-a91bfd8191a3'

resource appCostReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, identityPrincipalId, costManagementReader)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', costManagementReader)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

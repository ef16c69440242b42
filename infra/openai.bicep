// A new Azure OpenAI resource with its model deployments. Only deployed when
// no existing resource id is given. The custom subdomain is required for
// Microsoft Entra ID authentication. With private networking, public network
// access is off: the bridge reaches it through its private endpoint.

@description('Name of the Azure OpenAI resource; also its custom subdomain.')
param name string

@description('Region of the resource (must offer the chosen models and SKU).')
param location string

@description('Tags applied to the resource.')
param tags object = {}

@description('True to keep key authentication enabled (openAiAuthMode = key); false allows Entra ID only.')
param allowKeyAuth bool = false

@description('Model deployments: objects with name (deployment name), model, version, sku and capacity (thousands of tokens per minute).')
param deployments array

@description('True (VNET_ENABLED): public network access off; only private endpoints reach the resource.')
param privateNetworking bool = false

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' = {
  name: name
  location: location
  tags: tags
  kind: 'OpenAI'
  sku: {
    name: 'S0'
  }
  properties: {
    customSubDomainName: name
    disableLocalAuth: !allowKeyAuth
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
    networkAcls: {
      defaultAction: privateNetworking ? 'Deny' : 'Allow'
    }
  }
}

// One at a time: Azure OpenAI rejects concurrent deployment operations on one resource.
@batchSize(1)
resource modelDeployments 'Microsoft.CognitiveServices/accounts/deployments@2024-10-01' = [for d in deployments: {
  parent: account
  name: d.name
  sku: {
    name: d.sku
    capacity: d.capacity
  }
  properties: {
    model: {
      format: 'OpenAI'
      name: d.model
      version: d.version
    }
    versionUpgradeOption: 'OnceNewDefaultVersionAvailable'
  }
}]

output id string = account.id
output name string = account.name
output endpoint string = account.properties.endpoint

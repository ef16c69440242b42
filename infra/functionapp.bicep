// Flex Consumption plan (FC1) and the Linux Function App that runs the bridge.
// Everything authenticates with the user-assigned identity; secrets arrive as
// Key Vault references. Flex Consumption rejects FUNCTIONS_WORKER_RUNTIME,
// FUNCTIONS_EXTENSION_VERSION, WEBSITE_RUN_FROM_PACKAGE, SCM_DO_BUILD_DURING_DEPLOYMENT
// and the other legacy settings: runtime and deployment live in functionAppConfig.

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

// ----- Flex Consumption

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
param maximumInstanceCount int = 40

@description('HTTP requests one instance handles at once (the bridge is I/O bound: mostly waiting on Azure OpenAI).')
@minValue(1)
@maxValue(1000)
param httpPerInstanceConcurrency int = 16

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

@description('Versionless URI of the Key Vault secret that holds ANTHROPIC_AUTH_TOKEN.')
param authTokenSecretUri string

@description('Versionless URI of the Key Vault secret that holds AZURE_OPENAI_API_KEY; empty = Entra ID (no key).')
param openAiKeySecretUri string = ''

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
  ANTHROPIC_AUTH_TOKEN: '@Microsoft.KeyVault(SecretUri=${authTokenSecretUri})'
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
  // Required for HTTP streaming (azurefunctions-extensions-http-fastapi) on Python up to 3.12.
  PYTHON_ENABLE_INIT_INDEXING: '1'
}

var appSettings = union(hostSettings, bridgeSettings, apiKeySettings)

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
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
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

output name string = app.name
output id string = app.id
output defaultHostName string = app.properties.defaultHostName
output url string = 'https://${app.properties.defaultHostName}'

// The bridge's app registration in Microsoft Entra ID (CLIENT_AUTH=entra), first step: the application
// and what it exposes. Developers sign in to the bridge with tokens for it: Claude Code runs
// `az account get-access-token --resource api://<client id>` as its apiKeyHelper.
//
// Microsoft Graph Bicep (infra/bicepconfig.json) upserts by uniqueName with PATCH semantics: a property
// left out keeps its value. The application id is known only once the application exists, so its
// application id URI (api://<client id>) and the pre-authorized Azure CLI are set by entra-api.bicep,
// which main.bicep runs next on the same uniqueName.

extension microsoftGraphV1

@description('Stable unique name of the registration (the upsert key).')
param uniqueName string

@description('Display name of the registration and its enterprise application.')
param displayName string

@description('Value of the app role that may be required to call the bridge (ENTRA_REQUIRED_ROLE).')
param appRole string

@description('Value of the app role of the people who list and revoke anyone\'s personal keys (ENTRA_ADMIN_ROLE).')
param adminRole string

@description('Value of the app role that lets an application call with its own token (ENTRA_AUTOMATION_ROLE).')
param automationRole string

var scopeName = 'user_impersonation'

// Exposed: one delegated scope; v2.0 access tokens (the bridge accepts v1.0 too, as issued while this is unset).
var api = {
  requestedAccessTokenVersion: 2
  oauth2PermissionScopes: [
    {
      id: guid(uniqueName, scopeName)
      value: scopeName
      type: 'User'
      isEnabled: true
      adminConsentDisplayName: 'Use claude-azure-bridge'
      adminConsentDescription: 'Call the bridge to Azure OpenAI as the signed-in user (Claude Code, Cursor).'
      userConsentDisplayName: 'Use claude-azure-bridge'
      userConsentDescription: 'Call the bridge to Azure OpenAI as you.'
    }
  ]
}

// Tokens list only the groups assigned to the enterprise application: the ones BUDGET_OVERRIDES can name. A user
// cannot push themselves past a token's 200 groups (an overage, whose groups the bridge cannot see) with groups
// of their own making; only an owner or administrator assigns groups to the application.
resource app 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: uniqueName
  displayName: displayName
  signInAudience: 'AzureADMyOrg'
  api: api
  groupMembershipClaims: 'ApplicationGroup'
  appRoles: [
    {
      id: guid(uniqueName, appRole)
      value: appRole
      displayName: 'Bridge user'
      description: 'May call claude-azure-bridge (required when ENTRA_APP_ROLE_REQUIRED=true).'
      allowedMemberTypes: [
        'User'
      ]
      isEnabled: true
    }
    {
      id: guid(uniqueName, adminRole)
      value: adminRole
      displayName: 'Bridge key administrator'
      description: 'May list and revoke anyone\'s personal keys for claude-azure-bridge.'
      allowedMemberTypes: [
        'User'
      ]
      isEnabled: true
    }
    {
      id: guid(uniqueName, automationRole)
      value: automationRole
      displayName: 'Bridge automation'
      description: 'An application (service principal, managed identity) that may call claude-azure-bridge with its own token.'
      allowedMemberTypes: [
        'Application'
      ]
      isEnabled: true
    }
  ]
}

output clientId string = app.appId
output api object = api
output appRoleId string = guid(uniqueName, appRole)
output scopeId string = guid(uniqueName, scopeName)

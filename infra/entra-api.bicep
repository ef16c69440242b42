// The bridge's app registration, second step (see entra-app.bicep): its application id URI
// api://<client id> and the Azure CLI pre-authorized for its scope, so
// `az account get-access-token --resource api://<client id>` needs no consent prompt; then the
// enterprise application (service principal), which may require an app role assignment, so that only
// assigned users and groups get a token at all. Whoever runs azd up owns both and, when assignment is
// required, is assigned first.

extension microsoftGraphV1

@description('uniqueName of the registration made by entra-app.bicep.')
param uniqueName string

@description('Display name of the registration.')
param displayName string

@description('Application (client) id of the registration.')
param clientId string

@description('The `api` object entra-app.bicep set (its scope), completed here with the pre-authorized Azure CLI.')
param api object

@description('ENTRA_APP_ROLE_REQUIRED: only users and groups assigned the app role get a token for the bridge.')
param appRoleRequired bool = false

@description('Id of the app role (entra-app.bicep).')
param appRoleId string

@description('Object id of whoever runs azd up (AZURE_PRINCIPAL_ID); empty = nobody is made owner or assigned.')
param principalId string = ''

// The Azure CLI's well-known application id, the same in every tenant.
var azureCliAppId = '04b07795-8ddb-461a-bbee-02f9e1bf7b46'
var owners = empty(principalId) ? [] : [
  principalId
]

resource app 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: uniqueName
  displayName: displayName
  identifierUris: [
    'api://${clientId}'
  ]
  api: union(api, {
    preAuthorizedApplications: [
      {
        appId: azureCliAppId
        delegatedPermissionIds: map(api.oauth2PermissionScopes, scope => scope.id)
      }
    ]
  })
  owners: {
    relationships: owners
  }
}

resource servicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: app.appId
  appRoleAssignmentRequired: appRoleRequired
  owners: {
    relationships: owners
  }
}

resource deployerAssignment 'Microsoft.Graph/appRoleAssignedTo@v1.0' = if (appRoleRequired && !empty(principalId)) {
  appRoleId: appRoleId
  principalId: principalId
  resourceId: servicePrincipal.id
}

output clientId string = app.appId
output servicePrincipalId string = servicePrincipal.id

// Claude Code's /login (bridge/gateway/login), third step of the bridge's app registration, once the Function
// App exists (entra-app.bicep and entra-api.bicep made the registration): the redirect URI the verification
// page sends Entra ID back to, and the federated identity credential through which the Function App's
// managed identity proves the bridge to Entra ID without a secret (its token for api://AzureADTokenExchange,
// sent as the client assertion when the bridge redeems a sign-in or refreshes one). Microsoft Graph Bicep
// upserts by uniqueName with PATCH semantics: what the other steps set is kept.

extension microsoftGraphV1

@description('uniqueName of the registration made by entra-app.bicep.')
param uniqueName string

@description('Display name of the registration.')
param displayName string

@description('The URLs developers reach the bridge at: the Function App\'s, and its custom domain (LOGIN_HOST_NAME) when set.')
param baseUrls array

@description('Application (client) id of the registration.')
param clientId string

@description('Id of the delegated scope user_impersonation (entra-app.bicep).')
param scopeId string

@description('Object (principal) id of the Function App\'s user-assigned managed identity: the credential\'s subject.')
param identityPrincipalId string

@description('Issuer of the managed identity\'s tokens: this cloud\'s sign-in host, the tenant, v2.0.')
param issuer string

// Microsoft Graph's well-known application id and its OpenID Connect permissions (the same in every tenant).
var graphAppId = '00000003-0000-0000-c000-000000000000'
var openIdScopes = [
  '37f7f235-527c-4136-accd-4a02d197296e' // openid
  '14dad69e-099b-42c9-810b-d002981feec1' // profile
  '7427e0e9-2fba-42fe-b0c0-848c9e6a8182' // offline_access: the refresh token the bridge keeps
]

// What /login asks for (so "Grant admin consent" in API permissions consents for everyone at once): the
// OpenID Connect scopes, and the bridge's own scope, whose access token the bridge checks like any other.
resource app 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: uniqueName
  displayName: displayName
  web: {
    redirectUris: map(baseUrls, url => '${url}/oauth/callback')
  }
  requiredResourceAccess: [
    {
      resourceAppId: graphAppId
      resourceAccess: map(openIdScopes, id => {
        id: id
        type: 'Scope'
      })
    }
    {
      resourceAppId: clientId
      resourceAccess: [
        {
          id: scopeId
          type: 'Scope'
        }
      ]
    }
  ]
}

resource federation 'Microsoft.Graph/applications/federatedIdentityCredentials@v1.0' = {
  name: '${app.uniqueName}/function-app-identity'
  description: 'The Function App\'s managed identity signs the bridge in to Entra ID for Claude Code\'s /login.'
  issuer: issuer
  subject: identityPrincipalId
  audiences: [
    'api://AzureADTokenExchange'
  ]
}

output redirectUris array = app.web.redirectUris

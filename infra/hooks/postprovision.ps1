# azd postprovision hook: prints the settings to paste into Claude Code and Cursor.
# azd passes the environment's values (the outputs of infra/main.bicep) as
# environment variables; `azd env get-value` is the fallback when run by hand.
# No secret is ever printed: with CLIENT_AUTH=token the settings read the shared token from
# Key Vault; with CLIENT_AUTH=entra each developer gets their own Entra ID token from 'az login'.

. (Join-Path $PSScriptRoot 'azd_values.ps1')

$url = Get-AzdValue 'AZURE_FUNCTION_URL'
$vault = Get-AzdValue 'AZURE_KEY_VAULT_NAME'
$secret = Get-AzdValue 'ANTHROPIC_AUTH_TOKEN_SECRET_NAME'
$window = Get-AzdValue 'CLAUDE_CODE_AUTO_COMPACT_WINDOW'
$deployments = Get-AzdValue 'BRIDGE_DEPLOYMENTS'
$app = Get-AzdValue 'AZURE_FUNCTION_APP_NAME'
$vnet = Get-AzdValue 'AZURE_VNET_NAME'
$allowed = (Get-AzdValue 'AZURE_FUNCTION_ALLOWED_IP_RANGES') -replace ',', ', '
$auth = Get-AzdValue 'CLIENT_AUTH'
$clientId = Get-AzdValue 'ENTRA_CLIENT_ID'
$tenant = Get-AzdValue 'ENTRA_TENANT_ID'

if ([string]::IsNullOrEmpty($secret)) { $secret = 'anthropic-auth-token' }
if ([string]::IsNullOrEmpty($window)) { $window = '272000' }

if ([string]::IsNullOrEmpty($url) -or [string]::IsNullOrEmpty($vault)) {
    Write-Warning "claude-azure-bridge: AZURE_FUNCTION_URL or AZURE_KEY_VAULT_NAME is not set; run 'azd provision' first."
    exit 0
}

if ($auth -eq 'entra' -and -not [string]::IsNullOrEmpty($clientId)) {
    # Each developer's own Microsoft Entra ID token for the bridge (the Azure CLI is pre-authorized: no consent prompt).
    $tokenCmd = "az account get-access-token --resource api://$clientId --query accessToken -o tsv"
    $signIn = "with a Microsoft Entra ID sign-in or a personal key"
    $cursor = @"
a personal key (Cursor cannot run a helper): make one, signed in with 'az login', with
  Invoke-RestMethod -Method Post -Uri $url/v1/keys -Headers @{ Authorization = "Bearer `$($tokenCmd)" } -ContentType 'application/json' -Body '{"name": "cursor"}'
then paste its "key" (cab_..., shown once) as Cursor's OpenAI API Key. GET /v1/keys lists yours, DELETE /v1/keys/<id> revokes one.
"@
    $tokenNote = @"
Every developer of tenant $tenant signs in with 'az login --tenant $tenant' (app registration
$clientId; ENTRA_APP_ROLE_REQUIRED=true admits only users and groups assigned its Bridge.User role in
Enterprise applications). Usage and budget left: Invoke-RestMethod -Uri $url/v1/usage -Headers @{ Authorization = "Bearer `$($tokenCmd)" }
"@
} else {
    $tokenCmd = "az keyvault secret show --vault-name $vault --name $secret --query value -o tsv"
    $signIn = "with the token"
    $cursor = "the token printed by: $tokenCmd"
    if (-not [string]::IsNullOrEmpty($vnet)) {
        $tokenNote = @"
Key Vault $vault is private: 'az keyvault secret show' (you have Key Vault Secrets Officer) works
only from a network that reaches its private endpoint (the virtual network, or a network peered or
connected to it that resolves privatelink.vaultcore.azure.net). Elsewhere, someone inside reads the
token and hands it over through your secret manager: use it as ANTHROPIC_AUTH_TOKEN (instead of
apiKeyHelper) and as Cursor's API key.
"@
    } else {
        $tokenNote = "The token is read with your 'az login' (you have Key Vault Secrets Officer on $vault)."
    }
}

if (-not [string]::IsNullOrEmpty($vnet)) {
    $network = "private: Azure OpenAI, Key Vault and storage are reached through private endpoints in $vnet"
} else {
    $network = "public endpoints, each with Microsoft Entra ID or key authentication (VNET_ENABLED=true makes them private)"
}
if (-not [string]::IsNullOrEmpty($allowed)) {
    $reachable = @"
only from $allowed, deployments too (run azd deploy from there).
              Cursor calls from Cursor's servers, not from your machine: allow their addresses too, or Cursor gets 403.
"@
} else {
    $reachable = "from any address, $signIn (ALLOWED_IP_RANGES restricts it)"
}

Write-Host @"

================ claude-azure-bridge is provisioned ================
Function App: $app
Bridge URL:   $url
Reachable:    $reachable
Network:      $network
(Run 'azd deploy' if you ran 'azd provision' alone; 'azd up' deploys next.)

---- Claude Code: ~/.claude/settings.json (or .claude/settings.json in a project)
{
  "apiKeyHelper": "$tokenCmd",
  "env": {
    "ANTHROPIC_BASE_URL": "$url",
    "CLAUDE_CODE_AUTO_COMPACT_WINDOW": "$window"
  }
}

---- Claude Code: or in PowerShell
`$env:ANTHROPIC_BASE_URL = "$url"
`$env:ANTHROPIC_AUTH_TOKEN = ($tokenCmd)
`$env:CLAUDE_CODE_AUTO_COMPACT_WINDOW = "$window"

---- Cursor: Settings > Models
OpenAI API Key:           $cursor
Override OpenAI Base URL: $url/v1
Models to add:            gpt-high,gpt-medium,gpt-low,gpt-minimal,$deployments

$tokenNote
=====================================================================

"@
exit 0

# azd postprovision hook: prints the settings to paste into Claude Code and Cursor.
# azd passes the environment's values (the outputs of infra/main.bicep) as
# environment variables; `azd env get-value` is the fallback when run by hand.
# The token itself is never printed: the settings read it from Key Vault.

function Get-AzdValue([string] $Name) {
    $v = [Environment]::GetEnvironmentVariable($Name)
    if ([string]::IsNullOrEmpty($v) -and (Get-Command azd -ErrorAction SilentlyContinue)) {
        $v = (azd env get-value $Name 2>$null | Out-String).Trim()
        if ($LASTEXITCODE -ne 0 -or $v -like 'ERROR*' -or $v -like '*not found*') { $v = '' }
    }
    return $v
}

$url = Get-AzdValue 'AZURE_FUNCTION_URL'
$vault = Get-AzdValue 'AZURE_KEY_VAULT_NAME'
$secret = Get-AzdValue 'ANTHROPIC_AUTH_TOKEN_SECRET_NAME'
$window = Get-AzdValue 'CLAUDE_CODE_AUTO_COMPACT_WINDOW'
$deployments = Get-AzdValue 'BRIDGE_DEPLOYMENTS'
$app = Get-AzdValue 'AZURE_FUNCTION_APP_NAME'

if ([string]::IsNullOrEmpty($secret)) { $secret = 'anthropic-auth-token' }
if ([string]::IsNullOrEmpty($window)) { $window = '272000' }

if ([string]::IsNullOrEmpty($url) -or [string]::IsNullOrEmpty($vault)) {
    Write-Warning "claude-azure-bridge: AZURE_FUNCTION_URL or AZURE_KEY_VAULT_NAME is not set; run 'azd provision' first."
    exit 0
}

$tokenCmd = "az keyvault secret show --vault-name $vault --name $secret --query value -o tsv"

Write-Host @"

================ claude-azure-bridge is provisioned ================
Function App: $app
Bridge URL:   $url
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
OpenAI API Key:           the token printed by: $tokenCmd
Override OpenAI Base URL: $url/v1
Models to add:            gpt-high,gpt-medium,gpt-low,gpt-minimal,$deployments

The token is read with your 'az login' (you have Key Vault Secrets Officer on $vault).
=====================================================================

"@
exit 0

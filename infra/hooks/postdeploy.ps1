# azd postdeploy hook: smoke-tests the app just deployed (scripts/smoke) and prints its verdict.
# A failed check fails `azd deploy` / `azd up` (exit status 1) with the line that says what to look at.
# The client token: with CLIENT_AUTH=token, the shared token read from Key Vault with your 'az login'
# (as Claude Code's apiKeyHelper does), unless ANTHROPIC_AUTH_TOKEN is set; with CLIENT_AUTH=entra,
# scripts/smoke gets your own Entra ID token with 'az account get-access-token'.
# `azd env set SMOKE_TEST false` skips it (e.g. when the vault is private and this machine outside);
# SMOKE_WAIT_SECONDS (default 180) is how long it waits for the new app to start answering.

. (Join-Path $PSScriptRoot 'azd_values.ps1')

$root = Resolve-Path (Join-Path $PSScriptRoot '../..')
$url = Get-AzdValue 'AZURE_FUNCTION_URL'
$wait = Get-AzdValue 'SMOKE_WAIT_SECONDS'
if ([string]::IsNullOrEmpty($wait)) { $wait = '180' }

if ((Get-AzdValue 'SMOKE_TEST') -eq 'false') {
    Write-Warning "claude-azure-bridge: smoke test skipped (SMOKE_TEST=false); run scripts/smoke $url to check the app."
    exit 0
}
if ([string]::IsNullOrEmpty($url)) {
    Write-Error "claude-azure-bridge: AZURE_FUNCTION_URL is not set; run 'azd provision' first."
    exit 1
}
$python = @('python3', 'python', 'py') | Where-Object { Get-Command $_ -ErrorAction SilentlyContinue } | Select-Object -First 1
if (-not $python) {
    Write-Error "claude-azure-bridge: cannot smoke-test the app: no Python on this machine (set SMOKE_TEST=false to skip)."
    exit 1
}

if ((Get-AzdValue 'CLIENT_AUTH') -eq 'entra') {
    $env:CLIENT_AUTH = 'entra'
    $env:ENTRA_CLIENT_ID = Get-AzdValue 'ENTRA_CLIENT_ID'
    $env:ENTRA_TENANT_ID = Get-AzdValue 'ENTRA_TENANT_ID'
}
elseif ([string]::IsNullOrEmpty($env:ANTHROPIC_AUTH_TOKEN)) {
    $vault = Get-AzdValue 'AZURE_KEY_VAULT_NAME'
    $secret = Get-AzdValue 'ANTHROPIC_AUTH_TOKEN_SECRET_NAME'
    if ([string]::IsNullOrEmpty($secret)) { $secret = 'anthropic-auth-token' }
    $env:ANTHROPIC_AUTH_TOKEN = (az keyvault secret show --vault-name $vault --name $secret --query value -o tsv 2>$null | Out-String).Trim()
    if ([string]::IsNullOrEmpty($env:ANTHROPIC_AUTH_TOKEN)) {
        Write-Warning "claude-azure-bridge: could not read the client token from Key Vault $vault (az login? a private vault?)."
    }
}

Write-Host ""
Write-Host "================ claude-azure-bridge smoke test ================"
& $python (Join-Path $root 'scripts/smoke') --wait $wait $url
$status = $LASTEXITCODE
if ($status -ne 0) {
    Write-Warning "The deployed bridge does not work: see the FAIL lines above. Run 'scripts/smoke $url' again after a fix."
}
Write-Host "================================================================"
exit $status

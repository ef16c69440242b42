# Dot-sourced by the azd hooks: Get-AzdValue NAME returns the azd environment's value of NAME.
# azd passes the environment's values (the outputs of infra/main.bicep) as environment
# variables; `azd env get-value` is the fallback when a hook is run by hand.

function Get-AzdValue([string] $Name) {
    $v = [Environment]::GetEnvironmentVariable($Name)
    if ([string]::IsNullOrEmpty($v) -and (Get-Command azd -ErrorAction SilentlyContinue)) {
        $v = (azd env get-value $Name 2>$null | Out-String).Trim()
        if ($LASTEXITCODE -ne 0 -or $v -like 'ERROR*' -or $v -like '*not found*') { $v = '' }
    }
    return $v
}

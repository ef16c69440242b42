#!/bin/sh
# azd postprovision hook: prints the settings to paste into Claude Code and Cursor.
# azd passes the environment's values (the outputs of infra/main.bicep) as
# environment variables; `azd env get-value` is the fallback when run by hand.
# No secret is ever printed: with CLIENT_AUTH=token the settings read the shared token from
# Key Vault; with CLIENT_AUTH=entra each developer gets their own Entra ID token from 'az login'.

. "$(dirname "$0")/azd_values.sh"

url=$(value AZURE_FUNCTION_URL)
vault=$(value AZURE_KEY_VAULT_NAME)
secret=$(value ANTHROPIC_AUTH_TOKEN_SECRET_NAME)
window=$(value CLAUDE_CODE_AUTO_COMPACT_WINDOW)
deployments=$(value BRIDGE_DEPLOYMENTS)
app=$(value AZURE_FUNCTION_APP_NAME)
vnet=$(value AZURE_VNET_NAME)
allowed=$(value AZURE_FUNCTION_ALLOWED_IP_RANGES | sed 's/,/, /g')
auth=$(value CLIENT_AUTH)
client_id=$(value ENTRA_CLIENT_ID)
tenant=$(value ENTRA_TENANT_ID)

[ -n "$secret" ] || secret=anthropic-auth-token
[ -n "$window" ] || window=272000

if [ -z "$url" ] || [ -z "$vault" ]; then
  echo "claude-azure-bridge: AZURE_FUNCTION_URL or AZURE_KEY_VAULT_NAME is not set; run 'azd provision' first." >&2
  exit 0
fi

if [ "$auth" = "entra" ] && [ -n "$client_id" ]; then
  # Each developer's own Microsoft Entra ID token for the bridge (the Azure CLI is pre-authorized: no consent prompt).
  token_cmd="az account get-access-token --resource api://$client_id --query accessToken -o tsv"
  sign_in="with a Microsoft Entra ID sign-in or a personal key"
  cursor="a personal key (Cursor cannot run a helper): make one, signed in with 'az login', with
  curl -s -X POST $url/v1/keys -H \"Authorization: Bearer \$($token_cmd)\" -H 'content-type: application/json' -d '{\"name\": \"cursor\"}'
then paste its \"key\" (cab_..., shown once) as Cursor's OpenAI API Key. GET /v1/keys lists yours, DELETE /v1/keys/<id> revokes one."
  token_note="Every developer of tenant $tenant signs in with 'az login --tenant $tenant' (app registration
$client_id; ENTRA_APP_ROLE_REQUIRED=true admits only users and groups assigned its Bridge.User role in
Enterprise applications). Usage and budget left: curl -s $url/v1/usage -H \"Authorization: Bearer \$($token_cmd)\""
else
  token_cmd="az keyvault secret show --vault-name $vault --name $secret --query value -o tsv"
  sign_in="with the token"
  cursor="the token printed by: $token_cmd"
  if [ -n "$vnet" ]; then
    token_note="Key Vault $vault is private: 'az keyvault secret show' (you have Key Vault Secrets Officer) works
only from a network that reaches its private endpoint (the virtual network, or a network peered or
connected to it that resolves privatelink.vaultcore.azure.net). Elsewhere, someone inside reads the
token and hands it over through your secret manager: use it as ANTHROPIC_AUTH_TOKEN (instead of
apiKeyHelper) and as Cursor's API key."
  else
    token_note="The token is read with your 'az login' (you have Key Vault Secrets Officer on $vault)."
  fi
fi

if [ -n "$vnet" ]; then
  network="private: Azure OpenAI, Key Vault and storage are reached through private endpoints in $vnet"
else
  network="public endpoints, each with Microsoft Entra ID or key authentication (VNET_ENABLED=true makes them private)"
fi
if [ -n "$allowed" ]; then
  reachable="only from $allowed, deployments too (run azd deploy from there).
              Cursor calls from Cursor's servers, not from your machine: allow their addresses too, or Cursor gets 403."
else
  reachable="from any address, $sign_in (ALLOWED_IP_RANGES restricts it)"
fi

cat <<SETTINGS

================ claude-azure-bridge is provisioned ================
Function App: $app
Bridge URL:   $url
Reachable:    $reachable
Network:      $network
(Run 'azd deploy' if you ran 'azd provision' alone; 'azd up' deploys next.)

---- Claude Code: ~/.claude/settings.json (or .claude/settings.json in a project)
{
  "apiKeyHelper": "$token_cmd",
  "env": {
    "ANTHROPIC_BASE_URL": "$url",
    "CLAUDE_CODE_AUTO_COMPACT_WINDOW": "$window"
  }
}

---- Claude Code: or in your shell (bash/zsh)
export ANTHROPIC_BASE_URL="$url"
export ANTHROPIC_AUTH_TOKEN="\$($token_cmd)"
export CLAUDE_CODE_AUTO_COMPACT_WINDOW=$window

---- Cursor: Settings > Models
OpenAI API Key:           $cursor
Override OpenAI Base URL: $url/v1
Models to add:            gpt-high,gpt-medium,gpt-low,gpt-minimal,$deployments

$token_note
=====================================================================

SETTINGS
exit 0

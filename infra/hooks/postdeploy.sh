#!/bin/sh
# azd postdeploy hook: smoke-tests the app just deployed (scripts/smoke) and prints its verdict.
# A failed check fails `azd deploy` / `azd up` (exit status 1) with the line that says what to look at.
# The client token: with CLIENT_AUTH=token, the shared token read from Key Vault with your 'az login'
# (as Claude Code's apiKeyHelper does), unless ANTHROPIC_AUTH_TOKEN is set; with CLIENT_AUTH=entra,
# scripts/smoke gets your own Entra ID token with 'az account get-access-token'.
# `azd env set SMOKE_TEST false` skips it (e.g. when the vault is private and this machine outside);
# SMOKE_WAIT_SECONDS (default 180) is how long it waits for the new app to start answering.

. "$(dirname "$0")/azd_values.sh"

root=$(cd "$(dirname "$0")/../.." && pwd)
url=$(value AZURE_FUNCTION_URL)
smoke_wait=$(value SMOKE_WAIT_SECONDS)
[ -n "$smoke_wait" ] || smoke_wait=180

if [ "$(value SMOKE_TEST | tr '[:upper:]' '[:lower:]')" = "false" ]; then
  echo "claude-azure-bridge: smoke test skipped (SMOKE_TEST=false); run scripts/smoke $url to check the app." >&2
  exit 0
fi
if [ -z "$url" ]; then
  echo "claude-azure-bridge: AZURE_FUNCTION_URL is not set; run 'azd provision' first." >&2
  exit 1
fi
python=$(command -v python3 || command -v python || true)
if [ -z "$python" ]; then
  echo "claude-azure-bridge: cannot smoke-test the app: no python3 on this machine (set SMOKE_TEST=false to skip)." >&2
  exit 1
fi

if [ "$(value CLIENT_AUTH)" = "entra" ]; then
  ENTRA_CLIENT_ID=$(value ENTRA_CLIENT_ID)
  ENTRA_TENANT_ID=$(value ENTRA_TENANT_ID)
  export CLIENT_AUTH=entra ENTRA_CLIENT_ID ENTRA_TENANT_ID
elif [ -z "$(printenv ANTHROPIC_AUTH_TOKEN 2>/dev/null || true)" ]; then
  vault=$(value AZURE_KEY_VAULT_NAME)
  secret=$(value ANTHROPIC_AUTH_TOKEN_SECRET_NAME)
  [ -n "$secret" ] || secret=anthropic-auth-token
  ANTHROPIC_AUTH_TOKEN=$(az keyvault secret show --vault-name "$vault" --name "$secret" --query value -o tsv 2>/dev/null || true)
  if [ -z "$ANTHROPIC_AUTH_TOKEN" ]; then
    echo "claude-azure-bridge: could not read the client token from Key Vault $vault (az login? a private vault?)." >&2
  fi
  export ANTHROPIC_AUTH_TOKEN
fi

echo ""
echo "================ claude-azure-bridge smoke test ================"
"$python" "$root/scripts/smoke" --wait "$smoke_wait" "$url"
status=$?
if [ "$status" -ne 0 ]; then
  echo "The deployed bridge does not work: see the FAIL lines above. Run 'scripts/smoke $url' again after a fix." >&2
fi
echo "================================================================"
exit "$status"

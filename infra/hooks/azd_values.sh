# Sourced by the azd hooks: value NAME prints the azd environment's value of NAME.
# azd passes the environment's values (the outputs of infra/main.bicep) as environment
# variables; `azd env get-value` is the fallback when a hook is run by hand.

value() {
  v=$(printenv "$1" 2>/dev/null || true)
  if [ -z "$v" ] && command -v azd >/dev/null 2>&1; then
    v=$(azd env get-value "$1" 2>/dev/null || true)
    case "$v" in
      ERROR*|*"not found"*) v="" ;;
    esac
  fi
  printf '%s' "$v"
}

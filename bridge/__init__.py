"""claude-azure-bridge: Claude Code and OpenAI-format clients on your own Azure OpenAI deployments."""

VERSION = "0.1.0"

"""What clients call: the Anthropic Messages API, the OpenAI chat format, the gateway's own routes."""

"""Who calls: the shared token, Microsoft Entra ID tokens, personal keys."""

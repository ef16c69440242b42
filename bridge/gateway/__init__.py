"""The organization gateway: who calls (auth/), what they used and may use (usage/), their tables."""

"""Budgets and usage counters, per user, per UTC day and month."""

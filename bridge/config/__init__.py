"""Configuration: the value kinds, the settings table, loading, and the safety policy."""

"""The tests' stand-ins and helpers: the fake Azure, Entra, identity, Azurite, the running bridge."""

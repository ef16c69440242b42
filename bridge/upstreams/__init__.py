"""Everything on the Azure side: bodies, streams, the pool, recovery, what was learned."""

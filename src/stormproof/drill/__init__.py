"""``stormproof drill``: a local multi-region cluster, simulated people, real faults."""

__all__: list[str] = []

"""stormproof: a short-video platform that survives losing a data center."""

__version__ = "0.1.0"

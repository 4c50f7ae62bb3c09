"""The HTTP API: writes go to actions (and so to the log), reads to views."""

from stormproof.api.app import create_app

__all__ = ["create_app"]

"""The web app (issue 16, ADR 029): built from ``web/`` into ``dist/`` and
served by every region at ``/``, with the list of regions it fails over to.

Only :mod:`stormproof.web.paths` is light enough to import from the edge;
the router is imported by the composition root.
"""

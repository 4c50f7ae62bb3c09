"""What the JetStream log and blob store share: connections and stream plumbing.

- :mod:`~stormproof.jetstream.links`: one nats connection per region's server,
  made and remade in the background, so a dead server never blocks a caller.
- :mod:`~stormproof.jetstream.streams`: idempotent stream creation, leaders
  placed one per region, and direct gets (answered by any replica, even while
  a stream has no leader).

Nothing here raises ``nats.*`` errors: an unreachable server or stream is
:class:`~stormproof.jetstream.links.Unreachable`, which the backends turn into
``LogError`` or ``BlobError``. See ``docs/adr/008-jetstream-backends.md``.
"""

"""``stormproof drill``: cut a data center's power under real user load, and
prove what users saw.

:mod:`~stormproof.drill.scenario` reads the scenario files,
:mod:`~stormproof.drill.proxy` puts round-trip times and partitions between
regions, :mod:`~stormproof.drill.people` are the simulated users,
:mod:`~stormproof.drill.runner` runs it all, :mod:`~stormproof.drill.checker`
reads every write back and :mod:`~stormproof.drill.report` says what happened.
"""

__all__: list[str] = []

"""The platform's status, from the log (ADR 020): probes every region runs.

``prober`` checks every region the way a person would and records each round
as a ``probes.recorded`` event; ``traffic`` counts people's requests for it;
``identity`` names the probe accounts and marks their requests; ``checks``
holds the checks themselves.
"""

from stormproof.status.prober import Prober
from stormproof.status.traffic import Traffic

__all__ = ["Prober", "Traffic"]

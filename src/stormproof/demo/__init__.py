"""The demo: a small community with real histories, so a fresh ``stormproof
serve`` shows what For You does — a first page that is personal, with
collaborative picks and the reasons for them (``explain=1``).

:mod:`~stormproof.demo.plan` decides who the people are and what they did
(a pure function of a seed); :mod:`~stormproof.demo.seed` writes it through
the API's own actions into an empty log.
"""

from stormproof.demo.plan import DEMO_PASSWORD, DEMO_USERS
from stormproof.demo.seed import Seeded, has_demo, seed_demo

__all__ = ["DEMO_PASSWORD", "DEMO_USERS", "Seeded", "has_demo", "seed_demo"]

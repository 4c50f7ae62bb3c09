"""For You: which videos a user should see next.

- ``engine.py`` — the state, a view of the log kept in memory and the same
  in every region (``signals.py``, ``pairs.py`` hold its parts);
- ``ranker.py`` — candidate sources, the blended score, the creator cap,
  explanations;
- ``snapshot.py`` — the state as plain data: its digest and its encoding;
- ``checkpoint.py`` — saving the state with its position, replaying the tail;
- ``evaluate.py``, ``baselines.py``, ``offline.py`` — the offline
  time-ordered evaluation, its baselines, and the engine behind it.
"""

"""For You: which videos a user should see next.

Version 0 ranks every unseen video by a blend of followed creators,
time-decayed popularity and freshness (``foryou.py``). The learning engine is
a later issue; it will plug in behind the same ``for_you`` function.
"""

"""Webhooks: every update of an incident or a maintenance, sent to the URLs
operators subscribed, signed per the Standard Webhooks specification, by one
region at a time, and recorded in the log once delivered (ADR 024).

``sealing`` makes, checks and seals the signing secrets; ``targets`` says
where a webhook may point; ``messages`` builds what is sent for an update;
``sending`` makes one signed attempt; ``deliverer`` decides which region
delivers, retries, and records the outcome. Import the modules themselves:
the actions use ``sealing`` and ``targets``, and the deliverer the actions.
"""

__all__: list[str] = []

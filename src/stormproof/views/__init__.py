"""Views: everything a user reads, computed from the log and nothing else.

A view owns some tables in the region's view database. The view store applies
log entries to it and records the view's position in the same transaction,
so a crash leaves data and position consistent, a restart resumes from the
position, and an entry delivered again is skipped.

Rules a view follows so that a rebuild from sequence 0 gives the same state
in every region:

- read time from ``entry.event.at``, never from the clock;
- derive every key from the event (no AUTOINCREMENT, no random values);
- never raise on an event that does not apply (unknown video, a username
  already taken by an earlier event): ignore it, deterministically.
"""

from __future__ import annotations

from stormproof.views.accounts import AccountsView
from stormproof.views.base import View
from stormproof.views.blocks import BlocksView
from stormproof.views.comments import CommentsView
from stormproof.views.creator_settings import CreatorSettingsView
from stormproof.views.engagement import EngagementView
from stormproof.views.follows import FollowsView
from stormproof.views.history import HistoryView
from stormproof.views.incidents import IncidentsView
from stormproof.views.keys import KeysView
from stormproof.views.ledger import LedgerView
from stormproof.views.messages import MessagesView
from stormproof.views.postmortems import PostmortemsView
from stormproof.views.quarantine import QuarantineView
from stormproof.views.renditions import RenditionsView
from stormproof.views.reports import ReportsView
from stormproof.views.roles import RolesView
from stormproof.views.status import StatusView
from stormproof.views.studio import StudioView
from stormproof.views.uploads import UploadsView
from stormproof.views.videos import VideosView
from stormproof.views.webhooks import WebhooksView

__all__ = ["View", "all_views"]


def all_views() -> list[View]:
    """A fresh instance of every view, in the order they are applied."""
    return [
        KeysView(),
        AccountsView(),
        RolesView(),
        VideosView(),
        UploadsView(),
        RenditionsView(),
        FollowsView(),
        BlocksView(),
        EngagementView(),
        StudioView(),
        CreatorSettingsView(),
        LedgerView(),
        CommentsView(),
        HistoryView(),
        MessagesView(),
        ReportsView(),
        StatusView(),
        IncidentsView(),
        WebhooksView(),
        PostmortemsView(),
        QuarantineView(),
    ]

"""Where the web app lives on a region's origin: its screens (each answers
with the app's page, so every link can be shared and opened on any region)
and its static files. No imports: the edge reads these too, to serve the
app's shell while the region catches up."""

from __future__ import annotations

__all__ = ["SCREENS", "SCREEN_PREFIXES", "STATIC_FILES", "STATIC_PREFIXES", "is_shell"]

#: the screens with a fixed path
SCREENS = frozenset({"/", "/following", "/upload", "/inbox", "/studio", "/account"})
#: a video's page (/v/ID) and a profile (/@username)
SCREEN_PREFIXES = ("/v/", "/@")
#: files at the root: the service worker's scope is the path it is served at
STATIC_FILES = frozenset({"/sw.js", "/manifest.webmanifest"})
#: built scripts and styles (named by content) and the icons
STATIC_PREFIXES = ("/assets/", "/icons/")


def is_shell(path: str) -> bool:
    """Whether ``path`` is part of the app's shell (answered even while the
    region catches up: the app then asks another region for data)."""
    return (
        path in SCREENS
        or path in STATIC_FILES
        or path.startswith(SCREEN_PREFIXES)
        or path.startswith(STATIC_PREFIXES)
    )

"""Local fake platforms: real HTTP servers on 127.0.0.1 that speak each platform's wire format.

The test suite (including the contract suite every connector passes) and ``monitor demo`` both
use them; nothing here reaches the network. Each platform module defines a
:class:`monitor.demo.fakes.base.FakePlatform` subclass and is listed in :data:`PLATFORMS`.
"""

from __future__ import annotations

import importlib

#: source ``type`` -> "module:Class" of its fake platform
PLATFORMS: dict[str, str] = {
    "rss": "monitor.demo.fakes.rss:FakeFeed",
    "facebook": "monitor.demo.fakes.facebook:FakeFacebook",
    "instagram": "monitor.demo.fakes.instagram:FakeInstagram",
    "x": "monitor.demo.fakes.x:FakeX",
    "youtube": "monitor.demo.fakes.youtube:FakeYouTube",
    "bluesky": "monitor.demo.fakes.bluesky:FakeBluesky",
    "mastodon": "monitor.demo.fakes.mastodon:FakeMastodon",
    "reddit": "monitor.demo.fakes.reddit:FakeReddit",
}


def fake_platform(type_name: str):
    module_name, class_name = PLATFORMS[type_name].split(":")
    return getattr(importlib.import_module(module_name), class_name)

"""Connectors: one module per platform, each a :class:`connectors.base.Connector`."""

from __future__ import annotations

import importlib

from monitor.errors import ConfigError

#: source ``type`` -> "module:Class". Modules are imported only when a source uses them.
REGISTRY: dict[str, str] = {
    "rss": "connectors.rss:RSSConnector",
    "facebook": "connectors.facebook:FacebookConnector",
    "instagram": "connectors.instagram:InstagramConnector",
    "x": "connectors.x:XConnector",
    "youtube": "connectors.youtube:YouTubeConnector",
    "bluesky": "connectors.bluesky:BlueskyConnector",
    "mastodon": "connectors.mastodon:MastodonConnector",
    "reddit": "connectors.reddit:RedditConnector",
}


def connector_class(type_name: str):
    """The connector class for a source type, or a ConfigError naming the known types."""
    target = REGISTRY.get(type_name)
    if target is None:
        known = ", ".join(sorted(REGISTRY))
        raise ConfigError(f"unknown source type {type_name!r}; known types: {known}")
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)

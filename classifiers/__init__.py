"""Classifiers: a verdict for every text (toxicity model plus safeguarding rules).

``load_classifier(settings)`` builds what the monitor runs from the ``[classifier]`` settings:
the shipped model (or another one), wrapped with the safeguarding rules of ``classifiers.rules``.
"""

from __future__ import annotations

from classifiers.loader import DEFAULT_MODEL, load_classifier, load_model

__all__ = ["DEFAULT_MODEL", "load_classifier", "load_model"]

"""Why an item was flagged, in the words a moderator reads first.

A flagged item's reason decides its headline, its colour and its urgency. The safeguarding rules
(:mod:`classifiers.rules`) name theirs in the verdict's labels; anything else the classifier
flagged is "abusive". When several apply, the most serious one wins:

==================  ==========================================  =====================
reason              from                                        message
==================  ==========================================  =====================
``threat``          the ``threat`` rule                         always its own, urgent
``self_harm``       the ``self_harm`` rule                      always its own, urgent
``personal_data``   the ``personal_data`` rule                  urgent
``abusive``         the model (offensive, hate) or profanity    urgent
==================  ==========================================  =====================
"""

from __future__ import annotations

from typing import Any

from classifiers.rules import PERSONAL_DATA, SELF_HARM, THREAT

ABUSIVE = "abusive"
#: most serious first
REASONS = (THREAT, SELF_HARM, PERSONAL_DATA, ABUSIVE)
#: reasons never merged into a message with anything else
OWN_MESSAGE = frozenset({THREAT, SELF_HARM})
#: a rule hit scores 1.0; a label at or above this counts as the rule's reason
RULE_SCORE = 0.5


def reason_of(item: dict[str, Any]) -> str | None:
    """The reason a flagged item was flagged (see the table above); None if it was not flagged."""
    labels = item.get("labels") or {}
    if isinstance(labels, dict):
        for reason in REASONS[:-1]:
            try:
                if float(labels.get(reason) or 0) >= RULE_SCORE:
                    return reason
            except (TypeError, ValueError):
                continue
    elif isinstance(labels, (list, tuple)):
        for reason in REASONS[:-1]:
            if reason in labels:
                return reason
    return ABUSIVE if item.get("flagged") else None

"""The weekly digest for the principal: what was said about the school, and how well it answered.

Three modules, in the order the data flows:

- :mod:`monitor.digest.week`: the week and its figures. ISO-week arithmetic in the school's time
  zone, the records, and :func:`build_digest`, which computes a :class:`Digest` from the store
  (every number by SQL; the definitions of each figure are in that module's docstring);
- :mod:`monitor.digest.render`: the rendering. The HTML email (templates beside the module), its
  plain-text alternative and the PNG chart;
- :mod:`monitor.digest.send`: scheduling and sending. The HTML archived beside the database and the
  email queued in the outbox once per week (:func:`send_digest`); :func:`send_due_digest` is the
  daemon's weekly job, which also catches up a digest missed while the server was off.
"""

from monitor.digest.send import Published, publish, send_digest, send_due_digest
from monitor.digest.week import Digest, DigestError, build_digest, parse_week

__all__ = [
    "Digest",
    "DigestError",
    "Published",
    "build_digest",
    "parse_week",
    "publish",
    "send_digest",
    "send_due_digest",
]

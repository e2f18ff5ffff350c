"""School social-media monitor: collects comments and mentions, flags abuse, tracks acknowledgement deadlines."""

__version__ = "0.1.0"

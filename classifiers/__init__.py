"""Classifiers: a verdict for every text (toxicity model plus safeguarding rules)."""

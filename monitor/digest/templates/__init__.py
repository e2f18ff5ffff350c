"""Templates of the weekly digest (HTML email and its plain-text alternative)."""

"""Where the admin pages keep a cadre's decision as a labeled example (see classifier.learning)."""

from classifier.learning import record

__all__ = ["record"]

"""Where the admin pages keep a cadre's decision as a labeled example (see handlers.learning)."""

from handlers.learning import record

__all__ = ["record"]

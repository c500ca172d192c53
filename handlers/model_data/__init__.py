"""The shipped classifier model (model.npz, written by handlers.training; see docs/dataset.md)."""

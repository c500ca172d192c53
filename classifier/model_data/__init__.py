"""The shipped classifier model (model.npz, written by classifier.training; see docs/dataset.md)."""

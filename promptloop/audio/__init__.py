"""Audio input/output, mixing and measurement."""

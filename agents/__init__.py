"""Long-running agent workers: topic -> screening -> graph -> outputs."""

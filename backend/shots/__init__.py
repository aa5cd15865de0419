"""Per-shot state on disk: frame store, matte cache, prompt journal."""

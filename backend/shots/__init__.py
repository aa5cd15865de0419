"""Per-shot state on disk: frame store, matte cache, prompt journal.

docs/CACHE_LAYOUT.md describes the folder these classes share:
`<cache_root>/<shot_id>/{shot.json, plate/, prompts/, matte/}`.
"""

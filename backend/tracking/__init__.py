"""Trackers: SAM2.1 (the sam2 package's own model classes) and the weight-free flow fallback."""

"""The pipeline benchmark (`python -m benchmarks.pipeline`): see __main__.py."""

import os

# sam2's predictor draws a progress bar per call; tqdm reads this when it is first imported.
os.environ.setdefault("TQDM_DISABLE", "1")

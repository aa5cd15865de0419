"""The SAM2Matting heads: model, official checkpoint layout, engine, and the training recipe.

Importing this package imports nothing heavy; see `model` (the heads), `checkpoint` (official
layout, strict loading), `engine` (inference on the tracker's features), `train` (training
script, with `data` and `losses`).
"""

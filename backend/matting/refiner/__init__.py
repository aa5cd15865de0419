"""The learned edge refiner: model, training recipe, weights, and its engine/tile-solver glue.

Importing this package imports nothing heavy; see `engine` (inference), `train` (training
script), `weights` (the committed fp16 file) and MODEL_CARD.md.
"""

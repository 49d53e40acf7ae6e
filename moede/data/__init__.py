"""Emotion vocabularies, dataset adapters and the embedded demo corpora."""

"""Evaluation: classification metrics and feature similarity."""

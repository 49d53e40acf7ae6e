"""MoEDE companion: reproducible pipeline for "Mixture of Emotion Dependent Experts" (Salman et al., 2025)."""

__version__ = "0.1.0"

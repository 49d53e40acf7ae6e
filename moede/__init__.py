"""MoEDE companion: reproducible pipeline for "Mixture of Emotion Dependent Experts" (Salman et al., 2025)."""

from moede.threads import sleeping_openmp_threads

__version__ = "0.1.0"
sleeping_openmp_threads()  # before torch's OpenMP starts (moede.threads)

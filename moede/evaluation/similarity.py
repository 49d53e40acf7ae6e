"""Cosine similarity between the experts' features (paper Table 4)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from moede.data.emotions import SHORT_NAMES


def expert_cosine_matrix(features: torch.Tensor | np.ndarray) -> np.ndarray:
    """Return the (E,E) matrix S with S[i,j] = mean over images x of cos(f_i(x), f_j(x)).

    `features` has shape (N, E, D): the D-dim feature f_e(x) of expert e for each of N images x. The cosine is
    taken per image between two experts' feature vectors of that same image, then averaged over the N images
    (a zero vector counts as cosine 0 with everything and 1 with itself). S is symmetric with a unit diagonal.
    """
    feats = torch.as_tensor(np.asarray(features) if not torch.is_tensor(features) else features).double()
    if feats.ndim != 3 or len(feats) == 0:
        raise ValueError(f"features must have shape (N, E, D) with N > 0, got {tuple(feats.shape)}")
    unit = torch.nn.functional.normalize(feats, dim=2)
    matrix = torch.einsum("nid,njd->ij", unit, unit) / len(feats)
    matrix.fill_diagonal_(1.0)
    return matrix.numpy()


def similarity_frame(matrix: np.ndarray, emotions: Sequence[str]) -> pd.DataFrame:
    """Label a cosine matrix with the paper's short emotion names (Neu, Hap, ...) and round to 2 decimals."""
    names = [SHORT_NAMES[e] for e in emotions]
    return pd.DataFrame(np.asarray(matrix), index=names, columns=names).round(2)


def mean_off_diagonal(matrix: np.ndarray) -> float:
    """Return the mean of the off-diagonal entries (the paper quotes about 0.33 for Table 4)."""
    matrix = np.asarray(matrix)
    mask = ~np.eye(len(matrix), dtype=bool)
    return float(matrix[mask].mean())

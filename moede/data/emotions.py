"""The emotion vocabularies of AffectNet, CREMA-D and MSP-IMPROV, and the mappings between them.

Every label inside `moede` is a canonical lower-case emotion name from `CANONICAL`; the
per-corpus tuples fix the class order (= the integer class index used by the models).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

CANONICAL: tuple[str, ...] = (
    "neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt",
)

# AffectNet's expression codes 0-7 (8 none, 9 uncertain, 10 non-face are dropped).
AFFECTNET: tuple[str, ...] = CANONICAL
AFFECTNET_DROPPED_CODES: frozenset[int] = frozenset({8, 9, 10})

# CREMA-D's six emotions in the order used for the 6-class problem.
CREMAD: tuple[str, ...] = ("neutral", "happy", "sad", "anger", "fear", "disgust")
CREMAD_FILENAME_CODES: dict[str, str] = {
    "NEU": "neutral", "HAP": "happy", "SAD": "sad", "ANG": "anger", "FEA": "fear", "DIS": "disgust",
}
CREMAD_VOTE_LETTERS: dict[str, str] = {
    "N": "neutral", "H": "happy", "S": "sad", "A": "anger", "F": "fear", "D": "disgust",
}
# Column names of the soft labels in the published label_consensus_{k}.csv partition files.
CREMAD_PARTITION_COLUMNS: dict[str, str] = {
    "neutral": "neutral", "happy": "happy", "sad": "sad", "angry": "anger", "fear": "fear", "disgust": "disgust",
}

# MSP-IMPROV's four categorical emotions.
MSP_IMPROV: tuple[str, ...] = ("neutral", "happy", "sad", "anger")
MSP_IMPROV_CODES: dict[str, str] = {"N": "neutral", "H": "happy", "S": "sad", "A": "anger"}

# Spellings found in image-folder corpora (e.g. facial_expressions' labels.csv) -> canonical.
SYNONYMS: dict[str, str] = {
    "neutral": "neutral", "happiness": "happy", "happy": "happy", "sadness": "sad", "sad": "sad",
    "surprise": "surprise", "surprised": "surprise", "fear": "fear", "disgust": "disgust",
    "anger": "anger", "angry": "anger", "contempt": "contempt",
}

# The three-letter names the paper's tables use (Neu, Hap, ...).
SHORT_NAMES: dict[str, str] = {
    "neutral": "Neu", "happy": "Hap", "sad": "Sad", "surprise": "Sur",
    "fear": "Fea", "disgust": "Dis", "anger": "Ang", "contempt": "Con",
}
# The row names the paper's tables use (Neutral, Happiness, ...).
PAPER_NAMES: dict[str, str] = {
    "neutral": "Neutral", "happy": "Happiness", "sad": "Sadness", "surprise": "Surprise",
    "fear": "Fear", "disgust": "Disgust", "anger": "Anger", "contempt": "Contempt",
}


def canonical(name: str) -> str:
    """Return the canonical emotion name for a spelling such as 'Happiness' or 'angry'."""
    key = str(name).strip().lower()
    if key not in SYNONYMS:
        raise ValueError(f"unknown emotion label {name!r}; expected one of {sorted(set(SYNONYMS))}")
    return SYNONYMS[key]


def affectnet_code_to_name(code: int) -> str | None:
    """Map an AffectNet expression code to a canonical name, or None for the dropped codes 8-10."""
    code = int(code)
    if code in AFFECTNET_DROPPED_CODES:
        return None
    if not 0 <= code < len(AFFECTNET):
        raise ValueError(f"AffectNet expression code {code} is outside 0-10")
    return AFFECTNET[code]


def class_index(labels: Iterable[str], classes: Sequence[str]) -> list[int]:
    """Map canonical labels to their integer index within `classes`, failing on a label not in it."""
    lookup = {name: i for i, name in enumerate(classes)}
    out = []
    for label in labels:
        if label not in lookup:
            raise ValueError(f"label {label!r} is not one of the classes {list(classes)}")
        out.append(lookup[label])
    return out

"""Neural network models: MobileNetV2 SFER and experts, the batched expert bank, fusion heads and checkpoints."""

from moede.models.checkpoint import checkpoint_digest, load_checkpoint, save_checkpoint
from moede.models.experts import ExpertBank, extract_features_sequential
from moede.models.fusion import ExpertFusion
from moede.models.mobilenet import build_mobilenet_v2, extract_features

__all__ = [
    "ExpertBank", "ExpertFusion", "build_mobilenet_v2", "checkpoint_digest", "extract_features",
    "extract_features_sequential", "load_checkpoint", "save_checkpoint",
]

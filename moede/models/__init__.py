"""Neural network models: backbone classifiers (SFER, experts), the batched expert bank, fusion heads, DFER models,
the model registry and checkpoints."""

from moede.models.backbone import Backbone, BackboneClassifier, build_backbone
from moede.models.checkpoint import checkpoint_digest, load_checkpoint, save_checkpoint
from moede.models.experts import ExpertBank
from moede.models.fusion import ExpertFusion
from moede.models.registry import build_model, register_model

__all__ = [
    "Backbone", "BackboneClassifier", "ExpertBank", "ExpertFusion", "build_backbone", "build_model",
    "checkpoint_digest", "load_checkpoint", "register_model", "save_checkpoint",
]

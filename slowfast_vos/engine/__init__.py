"""Trainer, video-ordered inference, checkpoints and the OSVOS fine-tuning loop."""
from .checkpoint import VOSCheckpointer, WeightsError, load_trained_weights
from .inference import inference_on_videos, predict_video
from .trainer import VOSTrainer, check_datasets

__all__ = [
    "VOSCheckpointer",
    "VOSTrainer",
    "WeightsError",
    "check_datasets",
    "inference_on_videos",
    "load_trained_weights",
    "predict_video",
]

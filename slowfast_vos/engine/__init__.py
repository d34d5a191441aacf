"""Trainer, video-ordered inference and the OSVOS fine-tuning loop."""
from .inference import group_by_sequence, inference_on_videos
from .trainer import VOSTrainer, parameter_counts

__all__ = ["VOSTrainer", "group_by_sequence", "inference_on_videos", "parameter_counts"]

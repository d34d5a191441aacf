"""Run set-up (config, logging), trainer, video-ordered inference, checkpoints and the OSVOS fine-tuning loop."""
from .checkpoint import VOSCheckpointer, WeightsError, load_trained_weights
from .defaults import default_vos_setup, load_cfg
from .inference import inference_on_videos, predict_video
from .trainer import VOSTrainer, check_datasets

__all__ = [
    "VOSCheckpointer",
    "VOSTrainer",
    "WeightsError",
    "check_datasets",
    "default_vos_setup",
    "inference_on_videos",
    "load_cfg",
    "load_trained_weights",
    "predict_video",
]

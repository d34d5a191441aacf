"""The SlowFast temporal module and the SlowFast R-CNN meta-architecture (registered on import)."""
from .meta_arch import SlowFastRCNN
from .predictor import VideoPredictor
from .slowfast import SlowFastModule
from .utils import count_parameters, parameter_counts

__all__ = ["SlowFastModule", "SlowFastRCNN", "VideoPredictor", "count_parameters", "parameter_counts"]

"""DAVIS datasets, the clip dataset mapper and the synthetic DAVIS generator."""

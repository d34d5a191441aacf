"""The SlowFast temporal module and the SlowFast R-CNN meta-architecture."""

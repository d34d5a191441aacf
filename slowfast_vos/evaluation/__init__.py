"""DAVIS J&F metrics, the DAVIS DatasetEvaluator and a command-line evaluator."""

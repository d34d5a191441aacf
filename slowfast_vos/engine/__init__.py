"""Trainer and hooks."""

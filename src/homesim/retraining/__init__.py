"""Retraining: the model registry, trainers, data sufficiency, evaluation, deployment and A/B tests."""

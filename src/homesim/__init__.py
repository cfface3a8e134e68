"""homesim: the training-data factory for smart-home AI built on Home Assistant."""

__version__ = "0.1.0"

#: Bumped whenever generated homes or events change for the same inputs; part of every cache key.
GENERATOR_VERSION = "1.8.0"

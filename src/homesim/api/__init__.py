"""The HTTP service over the homesim library (FastAPI): jobs, homes, datasets, training data, lineage,
Home Assistant files, the model registry, and the reports. `create_app` builds it; `homesim serve` runs it.

Nothing in the library imports this package; it only calls the library, as the CLI does.
"""

from homesim.api.app import create_app

__all__ = ["create_app"]

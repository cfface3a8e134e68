"""The facets of homesim's OpenLineage events, built with openlineage-python's facet classes (the spec's
shapes, `_producer` and `_schemaURL` filled in by the classes):

* `schema` (`SchemaDatasetFacet`) — an exported file's columns, with their types and descriptions
  (`schemas.TABLES`, `cards.column_doc`);
* `dataSource` (`DatasourceDatasetFacet`) — where a dataset lives: a generated dataset's folder, the record
  store, an exported file or a model version's folder, as `file://` URIs;
* `outputStatistics` (`OutputStatisticsOutputDatasetFacet`) — rows, bytes and files a run wrote: the
  records a collector session accepted per model type, an exported file's rows (its `metadata.json`) and
  size;
* `homesim_generatorConfig` (`GeneratorConfigJobFacet`, a custom job facet) — the generator version,
  config hash and the whole `GenerationConfig` of the dataset a collector session read, from the dataset's
  manifest.

Facets describe the files as they are when the events are emitted (an export written again since shows
its newest rows); a file that is gone gets no statistics rather than made-up ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import attr
from openlineage.client.generated.base import DatasetFacet, JobFacet, OutputDatasetFacet
from openlineage.client.generated.datasource_dataset import DatasourceDatasetFacet
from openlineage.client.generated.output_statistics_output_dataset import (
    OutputStatisticsOutputDatasetFacet,
)
from openlineage.client.generated.schema_dataset import SchemaDatasetFacet, SchemaDatasetFacetFields
from pydantic import ValidationError

from homesim import __version__
from homesim.datasets.manifest import DatasetManifest, read_dataset
from homesim.training_data.cards import column_doc
from homesim.training_data.loading import read_metadata
from homesim.training_data.schemas import TABLES, SchemaVersionError
from homesim.workspace import Workspace

#: Where the custom facet's JSON schema is described (a custom facet's `_schemaURL` must name one).
GENERATOR_FACET_SCHEMA: Final = (
    f"https://github.com/homesim/homesim/blob/{__version__}/docs/data-formats.md#openlineage-events"
)
GENERATOR_FACET: Final = "homesim_generatorConfig"


@attr.define
class GeneratorConfigJobFacet(JobFacet):
    """The generation behind the dataset a job read: generator version, config hash and config."""

    generatorVersion: str  # noqa: N815 (OpenLineage facets are camelCase)
    configHash: str  # noqa: N815
    datasetId: str  # noqa: N815
    config: dict[str, Any] = attr.field(factory=dict)

    @staticmethod
    def _get_schema() -> str:
        return GENERATOR_FACET_SCHEMA


class LineageFacets:
    """Facets of the datasets and jobs of one workspace's lineage (files are read once each)."""

    def __init__(self, root: Path) -> None:
        self.workspace = Workspace(root)
        self._manifests: dict[str, DatasetManifest | None] = {}
        self._metadata: dict[Path, dict[str, Any] | None] = {}

    def _manifest(self, dataset_id: str) -> DatasetManifest | None:
        if dataset_id not in self._manifests:
            path = self.workspace.dataset(dataset_id).manifest
            try:
                self._manifests[dataset_id] = read_dataset(path) if path.is_file() else None
            except (OSError, ValidationError):
                self._manifests[dataset_id] = None  # unreadable: the event goes without its config
        return self._manifests[dataset_id]

    def dataset(self, dataset_id: str) -> dict[str, DatasetFacet]:
        """A generated dataset (a collector session's input): where it lives."""
        folder = self.workspace.dataset(dataset_id).path
        return {
            "dataSource": DatasourceDatasetFacet(name=f"homesim dataset {dataset_id}", uri=folder.as_uri())
        }

    def records(self) -> dict[str, DatasetFacet]:
        """The record store (collector sessions write it, exports read it)."""
        store = self.workspace.training_store
        return {"dataSource": DatasourceDatasetFacet(name="homesim record store", uri=store.as_uri())}

    @staticmethod
    def records_written(accepted: int) -> dict[str, OutputDatasetFacet]:
        """What a collector session wrote for one model type: its accepted records."""
        return {"outputStatistics": OutputStatisticsOutputDatasetFacet(rowCount=accepted)}

    def _export_metadata(self, folder: Path) -> dict[str, Any] | None:
        if folder not in self._metadata:
            try:
                self._metadata[folder] = read_metadata(folder)
            except (OSError, ValueError, SchemaVersionError):
                self._metadata[folder] = None
        return self._metadata[folder]

    def export_file(self, path: Path) -> dict[str, DatasetFacet]:
        """An exported file: where it is and, for a table's file, its columns."""
        facets: dict[str, DatasetFacet] = {
            "dataSource": DatasourceDatasetFacet(name=f"homesim export {path.parent.name}", uri=path.as_uri())
        }
        metadata = self._export_metadata(path.parent)
        model_type = metadata.get("model_type") if metadata else None
        table = path.name.split(".", 1)[0]
        specs = next((v for k, v in TABLES.items() if k == model_type), ())
        spec = next((s for s in specs if s.name == table), None)
        if spec is not None:
            facets["schema"] = SchemaDatasetFacet(
                fields=[
                    SchemaDatasetFacetFields(
                        name=c.name, type=str(c.dtype), description=column_doc(table, c.name) or None
                    )
                    for c in spec.columns
                ]
            )
        return facets

    def export_written(self, path: Path) -> dict[str, OutputDatasetFacet]:
        """An exported file's rows (as its export's `metadata.json` records them) and bytes."""
        if not path.is_file():
            return {}
        metadata = self._export_metadata(path.parent) or {}
        entry = metadata.get("files", {}).get(path.name)
        rows = entry.get("rows") if isinstance(entry, dict) else None
        return {
            "outputStatistics": OutputStatisticsOutputDatasetFacet(
                rowCount=rows if isinstance(rows, int) else None, size=path.stat().st_size, fileCount=1
            )
        }

    def model(self, model_type: str, version: str) -> dict[str, DatasetFacet]:
        """A model version (a training's output): its folder."""
        folder = self.workspace.models_dir / model_type / version
        return {
            "dataSource": DatasourceDatasetFacet(
                name=f"homesim model {model_type} {version}", uri=folder.as_uri()
            )
        }

    def job(self, dataset_id: str | None) -> dict[str, JobFacet]:
        """A collector session's job: the generator config of the dataset it read (none without one)."""
        manifest = self._manifest(dataset_id) if dataset_id else None
        if manifest is None:
            return {}
        return {
            GENERATOR_FACET: GeneratorConfigJobFacet(
                generatorVersion=manifest.generator_version,
                configHash=manifest.config_hash,
                datasetId=manifest.dataset_id,
                config=manifest.config,
            )
        }

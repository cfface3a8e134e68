"""Training data: what turns stage records into traceable training sets.

`collector` (the persistent `RecordSink`: collection points, batching, batch-wise quality filtering),
`validators` (quality scores and reasons, screened column-wise where they can be; `schema_screen` is the
schema check's screen), `store` (serialising a record once, and the per-cycle SQLite or Parquet staging the
exporters read), `frames` (stored payloads as polars frames), `lineage_tracker` (where every record came
from and where it went), and the exporters and formatters that write each model type's files (`loading`
reads them back).
"""

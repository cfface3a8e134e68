"""Training data: what turns stage records into traceable training sets.

`collector` (the persistent `RecordSink`: collection points, batching, quality filtering), `validators`
(quality scores and reasons), `store` (the per-cycle SQLite record store the exporters read),
`lineage_tracker` (where every record came from and where it went), and the exporters and formatters
that write each model type's files.
"""

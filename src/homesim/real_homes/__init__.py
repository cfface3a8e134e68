"""Real homes: histories recorded in people's homes, read into homesim home folders.

`real_homes.importing` reads a public dataset (UCI ADL / Ordóñez, WSU CASAS) or a Home Assistant recorder
database into the same folder layout `generate` writes (`home.json`, `events.parquet`), with every event's
cause `observed`, no ground truth, the home marked `source: "real"` with its dataset and citation, and an
`import_report.json` that accounts for every input line. `real_homes.activities` maps the datasets'
activity labels onto homesim's activity names.
"""

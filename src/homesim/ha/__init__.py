"""Home Assistant-native formats: what homesim reads and writes in HA's own shapes.

`automation` (automation models, automations.yaml in 2024.10+ and legacy syntax) and
`automation_validation` (checks of automations against a `Home`); `storage` (the `.storage` registries),
`recorder` (the recorder database) and `config_dir` (a configuration folder HA loads as is).
"""

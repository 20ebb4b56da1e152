"""Run configuration: frozen, validated dataclasses (:mod:`.schema`), presets (:mod:`.presets`),
TOML files and ``--set`` overrides (:mod:`.load`).
"""

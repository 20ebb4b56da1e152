"""The counterexample search: the space (:mod:`.space`), violation metrics (:mod:`.metrics`),
cases and shrinking (:mod:`.cases`), files (:mod:`.store`), worker pools (:mod:`.pools`), the driver
(:mod:`.driver`).
"""

"""The conservation-law claims of ``attndyn verify`` (:mod:`.engine`): the six attention models of
issue 9, the two calibration networks and the negative controls, all decided exactly."""

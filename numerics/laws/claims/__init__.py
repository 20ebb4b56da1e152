"""The numeric conservation-law claims of ``attndyn verify`` (:mod:`.trajectory`): the exactly proved
laws followed along an integrated trajectory of the real training flow, and a wrong law refuted there."""

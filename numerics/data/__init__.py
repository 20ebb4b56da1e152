"""Corpora: the paper's synthetic generator (:mod:`.corpus`) and SST-2/SST-5 (:mod:`.sst`).
"""

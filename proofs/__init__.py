"""Exact (SymPy) derivations and proofs of the paper's claims.

Kept import-light: submodules import SymPy themselves.
"""

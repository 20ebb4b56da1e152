"""The mutation suite: realistic bugs that ``attndyn verify`` must catch (see run.py)."""

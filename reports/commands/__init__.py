"""One module per ``attndyn`` subcommand: its arguments and its printing, nothing else.
"""

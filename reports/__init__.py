"""The command line, the verification runner and the LaTeX derivation reports."""

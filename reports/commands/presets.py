"""``attndyn presets``: the named configurations, one line each."""
from __future__ import annotations

import argparse

from attndyn.numerics.config.presets import preset_description, preset_names
from attndyn.reports.cli.exits import ExitCode

NAME = "presets"
HELP = "list the named configurations usable as --preset NAME, one line each"


def add_arguments(p: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    names = preset_names()
    width = max(len(n) for n in names)
    for n in names:
        print(f"{n:<{width}}  {preset_description(n)}")
    return ExitCode.OK

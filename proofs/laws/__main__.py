"""``python -m attndyn.proofs.laws [model d degree]``: the results table, or one model's JSON."""
import sys

from .run import named_table, run_laws
from .spec import named_model

if len(sys.argv) > 1:
    name = sys.argv[1]
    d = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    degree = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    print(run_laws(named_model(name, d=d), degree).to_json())
else:
    print(named_table()[0])

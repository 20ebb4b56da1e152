"""The claims of issue 12 §3 (derivations beyond gradient flow): momentum (:mod:`.momentum`),
mini-batch SGD (:mod:`.sgd`), Adam's sign-like flow (:mod:`.adam`) and the modified invariant of
gradient descent (:mod:`.modified`), each with negative controls; shared checks in :mod:`.common`."""

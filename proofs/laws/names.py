"""The named models of :func:`attndyn.proofs.laws.spec.named_model` and what each is (no SymPy: the
command line lists them in its help without loading the engine)."""

NAMED = {
    "paper-reduced": "one topic word, m frozen non-topic words (score 0, embedding 0), fixed q, any classifier",
    "query-trained": "paper-reduced with the query q trained too",
    "unequal-lengths": "the topic word in two sentences with m and m+1 frozen non-topic words",
    "moving-words": "topic t and non-topic a, b, c all trained, sentences {t,a,b}, {t,b,c}, {t,a,c}",
    "key-projection": "paper-reduced with k_t = W_K v_t, W_K and v_t trained",
    "linear-classifier": "paper-reduced with a fixed linear classifier W (2 x d), any loss of the logits",
    "fixed-loss": "paper-reduced, fixed W and squared loss with given targets: ONE field",
}

"""attndyn laws: every conservation law of an attention model's gradient flow, exactly (issue 9)."""

"""The answer gate: a small cross-encoder that tells whether a passage answers a question."""

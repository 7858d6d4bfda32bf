"""Grading on nbgrader: the batch (`course grade`), the gradebook, the ledger, logs, deadlines, feedback."""

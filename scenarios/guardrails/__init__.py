"""The guardrails scenario: a guard's harmful pass-through and benign over-block rates, per identity group."""

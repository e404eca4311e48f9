"""The ``toxicity`` scenario: how often and how badly continuations are toxic (RealToxicityPrompts)."""

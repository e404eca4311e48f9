"""The ``tone_disparity`` scenario: paired counterfactual prompts, common random numbers, tone gaps."""

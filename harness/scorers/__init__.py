"""Text scorers shared by scenarios: one batched interface, each with a recorded identity.

See :mod:`harness.scorers.base` for the contract, :mod:`harness.scorers.registry` for the
names (``profanity``, ``embedding``, ``hf``, ``detoxify``, ``perspective``) and
:mod:`harness.scorers.check` for ``harness scorer-check``. Heavy libraries are imported only
inside the scorer that needs them.
"""

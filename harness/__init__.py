"""rai-harness: responsible-AI evaluation of generative language models.

Every number comes with its confidence interval and provenance; see README.md.
"""

__version__ = "0.1.0"

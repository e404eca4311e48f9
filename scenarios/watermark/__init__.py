"""The watermark scenario: detectability, false positives, tamper resistance and quality cost."""

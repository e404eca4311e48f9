"""OpenAI-protocol test servers shared by tests and benchmarks."""

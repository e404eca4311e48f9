"""A minimal third-party rai-harness plugin, used by the tests and shown in the plugin guide."""

"""Built-in plugins of the core: they use the same hooks as third-party plugins."""

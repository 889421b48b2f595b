"""An example third-party add-on for sloth-kubernetes: the one docs/writing-a-plugin.md shows."""

"""Test substrate for the Vultr plugin: a stateful fake checked against Vultr's API description."""

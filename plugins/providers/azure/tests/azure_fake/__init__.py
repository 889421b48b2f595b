"""The Azure Resource Manager fake and the SDK-derived description its traffic is checked
against (tests only: they live beside the tests, not in the plugin package)."""

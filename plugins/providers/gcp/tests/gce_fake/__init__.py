"""The Compute Engine fake and Google's discovery document checker the plugin's tests run on
(tests only: they live beside the tests, not in the plugin package)."""

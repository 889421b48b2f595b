"""The core's test kit, shipped as a pytest plugin so plugin authors test the way we do."""

"""sloth-kubernetes provider for OpenStack clouds (libcloud's OpenStack 2 driver, Keystone v3)."""

"""sloth-kubernetes provider for Vultr (libcloud's Vultr v2 connection)."""

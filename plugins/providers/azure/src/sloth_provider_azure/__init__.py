"""sloth-kubernetes provider for Microsoft Azure (libcloud's Azure Resource Manager connection)."""

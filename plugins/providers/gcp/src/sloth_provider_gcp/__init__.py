"""sloth-kubernetes provider for Google Compute Engine (libcloud's Google/GCE connection)."""

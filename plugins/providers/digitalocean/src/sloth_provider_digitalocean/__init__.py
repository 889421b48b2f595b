"""sloth-kubernetes provider for DigitalOcean (libcloud's DigitalOcean v2 connection)."""

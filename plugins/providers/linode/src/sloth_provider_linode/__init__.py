"""sloth-kubernetes provider for Linode / Akamai (libcloud's Linode v4 connection)."""

"""sloth-kubernetes provider for Hetzner Cloud (libcloud has no driver: ours is on its base)."""

"""sloth-kubernetes provider for AWS EC2 (libcloud's ``EC2NodeDriver``)."""

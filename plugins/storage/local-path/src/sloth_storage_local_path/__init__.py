"""local-path-provisioner storage for sloth-kubernetes."""

"""RKE2 for sloth-kubernetes."""

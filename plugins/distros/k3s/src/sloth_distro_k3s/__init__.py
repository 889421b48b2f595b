"""K3s for sloth-kubernetes."""

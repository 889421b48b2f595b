"""Flannel CNI (K3s built-in) for sloth-kubernetes."""

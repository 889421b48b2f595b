"""Cilium CNI for sloth-kubernetes."""

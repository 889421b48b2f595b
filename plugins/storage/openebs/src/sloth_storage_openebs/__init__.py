"""Openebs storage for sloth-kubernetes."""

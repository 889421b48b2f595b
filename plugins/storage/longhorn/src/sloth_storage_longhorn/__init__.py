"""Longhorn storage for sloth-kubernetes."""

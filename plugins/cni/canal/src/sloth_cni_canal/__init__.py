"""Canal CNI for sloth-kubernetes."""

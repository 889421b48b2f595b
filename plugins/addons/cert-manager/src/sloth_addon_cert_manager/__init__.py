"""cert-manager add-on for sloth-kubernetes."""

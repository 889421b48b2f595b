"""Calico CNI for sloth-kubernetes."""

"""kubeadm, the upstream Kubernetes installer, as a sloth-kubernetes distribution."""

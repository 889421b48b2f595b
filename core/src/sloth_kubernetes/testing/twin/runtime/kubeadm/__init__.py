"""The distribution twin as ``kubeadm``, ``kubelet`` and ``kubectl`` of Kubernetes v1.31.4.

A **sloth twin of kubeadm — not a real Kubernetes.** The release bundle's three files are the
same zipapp; what it does depends on the name it is run as (``argv[0]``). Upstream sources
(kubernetes/kubernetes, read from the stored copies cited in each module; the behaviour is that
of the v1.31 line, later changes are named where a stored copy is newer):

* ``kubeadm init`` / ``kubeadm join`` (:mod:`.cli`): the config file read strictly
  (:mod:`.configs`), the preflight checks that can fail on a test host (:mod:`.preflight`),
  the certificates and their SANs under ``/etc/kubernetes/pki`` and the kubeconfig files
  (:mod:`.certs`), the static pod manifests under ``/etc/kubernetes/manifests``
  (:mod:`.manifests`), the kubelet's files, a ``systemctl restart kubelet``, the wait for the
  control plane, then what kubeadm writes through the API (:mod:`.cluster`): ``kubeadm-config``
  and ``kubelet-config``, ``kubeadm-certs`` (encrypted with the certificate key), the control
  plane's node label and taint, the bootstrap token, ``cluster-info`` and the RBAC rules joining
  nodes need, CoreDNS and kube-proxy;
* joining control-plane nodes download the certificates with the certificate key, add their
  etcd member as a learner through etcd's API and have it promoted (stacked etcd);
* ``kubelet`` (:mod:`.kubelet`): refuses to start with swap on, bootstraps its client
  certificate with the bootstrap token (a CSR the controller-manager signs), runs the static
  pods — etcd is the **real etcd** (Debian's ``etcd-server``, carried in the bundle) run with the
  flags of ``etcd.yaml``; kube-apiserver and kube-controller-manager are the twin's own
  (:mod:`.components`) — and posts their mirror pods and its Node.

No containers, no containerd is used (kubeadm's CRI check only looks for its socket), no pod
runs: nothing a manifest describes runs.
"""

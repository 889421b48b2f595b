"""The body of the distribution twin: the program a test node runs as ``k3s``/``rke2``.

A **sloth twin of K3s/RKE2 — not a real Kubernetes.** It runs under the real systemd units the
installers write, on test hosts, from a release bundle made by
:func:`sloth_kubernetes.testing.distro_twin.twin_bundle` (a Python zipapp that carries a real
etcd, as K3s carries its embedded one). Standard library only (plus ruamel.yaml, shipped inside the
bundle): it runs on the node's own ``python3``.

What it does, with its upstream sources (K3s v1.31.4+k3s1, RKE2 v1.31.4+rke2r1; see each module):

* refuses what K3s/RKE2 refuse on the command line and in ``config.yaml`` (:mod:`.config`);
* embedded etcd (:mod:`.etcd`): ``cluster-init`` (RKE2: the server without ``server:``) starts a
  one-member cluster on the node's address (2379/2380); a joining server authenticates to the
  first server with the token, reads ``/db/info`` and adds itself as a learner through the etcd
  API (:mod:`.etcd_join`: retried once a second while etcd answers "too many learners" or
  "unhealthy cluster", as K3s does), then starts with ``initial-cluster-state=existing``;
  learners are promoted once in sync;
* a Kubernetes API on 6443 (:mod:`.apiserver`): HTTPS, client-certificate auth, objects in etcd
  under ``/registry/...`` as JSON; nodes register themselves through it;
* the supervisor (:mod:`.supervisor`): bootstrap data, ``/db/info``, kubelet certificates (K3s on
  6443, RKE2 on 9345);
* the deploy controller (:mod:`.deploy`) over ``server/manifests`` with the model of
  :mod:`sloth_kubernetes.testing.twin` deciding what runs.

It does **not** run pods, containerd, a kubelet or any network: nothing a manifest describes runs.
"""

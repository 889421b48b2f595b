"""Kubernetes distributions behind one installer interface.

* :mod:`.installer` — the :class:`~.installer.Installer` interface distro plugins implement;
* :mod:`.orchestrate` — the distro phase every plugin's ``install_distro`` delegates to (first
  server, servers one at a time behind health gates, agents in batches);
* :mod:`.topology` — join order and TLS SANs; :mod:`.flags` — documented-key validation;
* :mod:`.artifacts` — release files: fetched with checksums, or imported air-gap bundles;
* :mod:`.credentials`, :mod:`.kubeconfig`, :mod:`.readiness`, :mod:`.render`.

Heavy libraries (pyinfra, lightkube) are imported inside functions only.
"""

from __future__ import annotations

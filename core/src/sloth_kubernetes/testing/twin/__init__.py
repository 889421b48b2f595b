"""The distribution twin's model: what K3s/RKE2 deploy on their own (standard library only).

``deployed_objects(distro, version, config, manifests, node_name=...)`` → :class:`Deployment`.
README.md lists the upstream files and versions the data was derived from.
"""

from __future__ import annotations

from .configfile import merge_config_files
from .distribution import chart_facts, deployed_objects, distro_data
from .helm import merge_values
from .model import Component, DeployedObject, Deployment, Finding, ObjectKey, Release, lookup

__all__ = [
    "Component",
    "DeployedObject",
    "Deployment",
    "Finding",
    "ObjectKey",
    "Release",
    "chart_facts",
    "deployed_objects",
    "distro_data",
    "lookup",
    "merge_config_files",
    "merge_values",
]

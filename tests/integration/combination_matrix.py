"""The combination matrix: every distro x CNI x storage x add-on x mesh the plugins offer,
generated from the installed plugins' registry and settings models (not a hand list).

``combinations()`` yields (id, spec overrides). ``render_for_twin`` renders one through the
tool's real code path (:func:`sloth_kubernetes.api.distro.render_cluster`: the distro phase's
node files and the add-on pipeline's manifests under the names ``deliver`` gives them) and
returns what a server's twin needs: its merged config and its manifests directory.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from typing import Any, Literal

import attrs
from ruamel.yaml import YAML
from sloth_kubernetes.config.convert import yaml_key
from sloth_kubernetes.distro.deliver import manifest_path
from sloth_kubernetes.distro.settings import DistroSettings
from sloth_kubernetes.registry import Catalog

#: Storage classes every storage block declares (one default).
CLASSES = [{"name": "fast", "default": True}, {"name": "keep", "reclaimPolicy": "Retain"}]
#: Meshes crossed with every distro and CNI variant: the defaults and an MTU/interface variant.
MESHES: dict[str, dict[str, Any]] = {
    "wg": {"type": "wireguard"},
    "wg1380": {"type": "wireguard", "mtu": 1380, "interface": "wg-mesh"},
    "tailscale": {"type": "tailscale"},
}
MESH_CIDR = "10.99.0.0/24"


def _variants(model: type[Any], *, skip: type[Any] | None = None) -> list[dict[str, Any]]:
    """The default settings, then each Literal/bool field of ``model`` set to each other value
    (one field at a time), skipping the fields of base class ``skip``."""
    hints = typing.get_type_hints(model)
    inherited = {f.name for f in attrs.fields(skip)} if skip is not None else set()
    found: list[dict[str, Any]] = [{}]
    for field in attrs.fields(model):
        if field.name in inherited:
            continue
        kind = hints[field.name]
        if typing.get_origin(kind) is Literal:
            found += [{yaml_key(field): v} for v in typing.get_args(kind) if v != field.default]
        elif kind is bool:
            found.append({yaml_key(field): not field.default})
    return found


def _label(settings: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in settings.items())


def combinations(catalog: Catalog) -> Iterator[tuple[str, dict[str, Any]]]:
    distros = []
    for distro in catalog.names("distro"):
        block = catalog.block("kubernetes", distro)
        model = block.model if block is not None else None
        for settings in _variants(model, skip=DistroSettings) if model else [{}]:
            distros.append((distro, settings))
    cnis: list[tuple[str | None, dict[str, Any]]] = [(None, {})]
    for name in catalog.names("cni"):
        block = catalog.block("cni", name)
        for settings in _variants(block.model) if block is not None else [{}]:
            if "version" not in settings and "values" not in settings:
                cnis.append((name, settings))
    storages = [None, *catalog.names("storage")]
    addons = [None, *catalog.names("addon")]
    for distro, distro_settings in distros:
        for index, (cni, cni_settings) in enumerate(cnis):
            # every storage and every add-on with every distro and CNI variant, on the default
            # mesh; the other meshes (MTU, interface) with every CNI variant; the full
            # storage x add-on product with the distro's default CNI
            if distro_settings:  # a distro setting variant: with each CNI, nothing else
                plan = [("wg", None, None)]
            else:
                plan = [("wg", s, None) for s in storages] + [("wg", None, a) for a in addons[1:]]
                plan += [(mesh, None, None) for mesh in MESHES if mesh != "wg"]
                if index == 0:
                    plan += [("wg", s, a) for s in storages[1:] for a in addons[1:]]
            for mesh, storage, addon in plan:
                yield _combination(distro, distro_settings, cni, cni_settings, mesh, storage, addon)
            if not distro_settings:  # CIS hardening (Pod Security restricted) with each CNI
                yield _combination(distro, {}, cni, cni_settings, "wg", None, None, cis=True)
        if not distro_settings:  # ... and with each storage and add-on
            cni, cni_settings = cnis[0]
            for storage, addon in [(s, None) for s in storages[1:]] + [
                (None, a) for a in addons[1:]
            ]:
                yield _combination(distro, {}, cni, cni_settings, "wg", storage, addon, cis=True)


def _combination(
    distro: str,
    distro_settings: dict[str, Any],
    cni: str | None,
    cni_settings: dict[str, Any],
    mesh: str,
    storage: str | None,
    addon: str | None,
    *,
    cis: bool = False,
) -> tuple[str, dict[str, Any]]:
    kubernetes: dict[str, Any] = {"distribution": distro}
    if cis:
        kubernetes["hardening"] = "cis"
    if distro_settings:
        kubernetes[distro] = distro_settings
    if distro == "kubeadm" and cni_settings.get("kubeProxyReplacement"):
        # kubeadm workers run no local API server: Cilium needs the control-plane endpoint
        kubernetes[distro] = {**distro_settings, "registrationAddress": "10.99.0.1"}
    if cni is not None:
        kubernetes["cni"] = {"type": cni, **cni_settings}
    spec: dict[str, Any] = {"kubernetes": kubernetes, "mesh": dict(MESHES[mesh])}
    if mesh.startswith("wg"):
        spec["mesh"]["cidr"] = MESH_CIDR
    if storage:
        spec["storage"] = [{"type": storage, "classes": CLASSES}]
    if addon:
        spec["addons"] = [{"name": addon}]
    parts = (
        (f"{distro}[{_label(distro_settings)}]" if distro_settings else distro)
        + ("[cis]" if cis else ""),
        f"{cni}[{_label(cni_settings)}]" if cni_settings else cni or "no-cni",
        mesh,
        storage or "no-storage",
        addon or "no-addon",
    )
    return "-".join(parts), spec


try:  # libyaml through PyYAML (installed with kubernetes-validate) parses ~20x faster
    import yaml as _pyyaml

    def load_yaml(text: str) -> Any:
        return _pyyaml.load(text, Loader=_pyyaml.CSafeLoader)

    def load_all(text: str) -> list[Any]:
        return list(_pyyaml.load_all(text, Loader=_pyyaml.CSafeLoader))

    def dump_yaml(data: Any) -> str:
        return str(_pyyaml.dump(data, Dumper=_pyyaml.CSafeDumper, sort_keys=False))

except (ImportError, AttributeError):  # pragma: no cover - ruamel's pure-Python parser
    _SAFE = YAML(typ="safe")

    def load_yaml(text: str) -> Any:
        return _SAFE.load(text)

    def load_all(text: str) -> list[Any]:
        return list(_SAFE.load_all(text))

    def dump_yaml(data: Any) -> str:
        import io

        stream = io.StringIO()
        _SAFE.dump(data, stream)
        return stream.getvalue()


def render_for_twin(config: Any, manager: Any) -> tuple[Any, ...]:
    """(server node name, its parsed config.yaml, {manifest file name: documents},
    {node: (its mesh address, its parsed config.yaml)} for every node, {path: text} of the
    server's files)."""
    from sloth_kubernetes.api.distro import render_cluster
    from sloth_kubernetes.engine.plan import node_requests
    from sloth_kubernetes.model import NodeRecord

    nodes = [
        NodeRecord(
            cluster=config.name,
            name=r.name,
            pool=r.pool,
            provider=r.provider,
            roles=r.roles,
            mesh_address=f"10.99.0.{index + 1}",
        )
        for index, r in enumerate(node_requests(config))
    ]
    rendered = render_cluster(config, nodes, manager)
    server = next(n.name for n in nodes if n.is_server)
    files = rendered.node_files[server]
    if config.spec.kubernetes.distribution == "kubeadm":
        return _kubeadm_for_twin(config, nodes, rendered, server, files)
    config_path = next(p for p in files if p.endswith("/config.yaml"))
    settings = load_yaml(files[config_path]) or {}
    directory = f"{settings.get('data-dir')}/server/manifests"
    manifests: dict[str, list[Any]] = {}
    for path, content in files.items():
        if path.startswith(directory + "/"):
            manifests[path[len(directory) + 1 :]] = load_all(content)
    for manifest in rendered.manifests:
        name = manifest_path(directory, manifest).rsplit("/", 1)[-1]
        manifests[name] = [manifest.body]
    everyone = {}
    for node in nodes:
        node_files = rendered.node_files[node.name]
        path = next(p for p in node_files if p.endswith("/config.yaml"))
        everyone[node.name] = (str(node.mesh_address), load_yaml(node_files[path]) or {})
    return server, settings, manifests, everyone, files


KUBEADM_CONFIG = "/etc/kubernetes/sloth/kubeadm.yaml"


def _kubeadm_documents(text: str) -> dict[str, Any]:
    return {d["kind"]: d for d in load_all(text) if isinstance(d, dict)}


def _kubeadm_for_twin(
    config: Any, nodes: list[Any], rendered: Any, server: str, files: dict[str, str]
) -> tuple[Any, ...]:
    """kubeadm: the first server's configuration kinds, and the add-on objects the pipeline
    applies through the API (kubeadm has no manifests directory)."""
    settings = _kubeadm_documents(files[KUBEADM_CONFIG])
    manifests = {f"{m.component}/{m.key}": [m.body] for m in rendered.manifests}
    everyone = {
        node.name: (
            str(node.mesh_address),
            _kubeadm_documents(rendered.node_files[node.name][KUBEADM_CONFIG]),
        )
        for node in nodes
    }
    return server, settings, manifests, everyone, files

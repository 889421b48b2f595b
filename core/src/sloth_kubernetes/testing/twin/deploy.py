"""K3s's deploy controller over the auto-deploy manifests directory (K3s and RKE2 share it).

Follows k3s-io/k3s ``pkg/deploy/controller.go`` (rules as in release-1.31):

* files are walked in sorted path order; a file whose base name (without its extension) is in
  the ``disable`` set is deleted, with every object it created (disable wins over ``.skip``);
* ``NAME.skip`` makes ``NAME`` ignored; dotfiles and names not ending in ``.yaml``, ``.yml`` or
  ``.json`` (case-insensitive) are ignored;
* every other file becomes an ``Addon`` (namespace kube-system) named after the text before the
  file name's *first* period, and its objects are applied with that Addon as owner: a second
  file with the same Addon name replaces the first file's set, so the first file's objects are
  pruned (two files named ``a.one.yaml``/``a.two.yaml`` fight over Addon ``a``);
* a ``List`` document contributes its items;
* the Addon is a custom resource, so its name must be a DNS-1123 subdomain
  (kubernetes/apiextensions-apiserver ``pkg/registry/customresource/validator.go``,
  ``validation.NameIsDNSSubdomain``): a file whose Addon name is not valid (``My_App.yaml``)
  is never applied — K3s logs the failed create and retries.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .model import Finding

EXTENSIONS = (".yaml", ".yml", ".json")
_ADDON_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


@dataclass
class AppliedFile:
    """A manifest file the controller applies, as Addon ``addon``."""

    file: str
    addon: str
    objects: list[dict[str, Any]]


@dataclass
class DeployResult:
    applied: list[AppliedFile] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    ignored: list[Finding] = field(default_factory=list)
    refused: list[Finding] = field(default_factory=list)


def addon_name(file_name: str) -> str:
    return file_name.rsplit("/", 1)[-1].split(".", 1)[0]


def _disabled(file_name: str, disables: set[str]) -> bool:
    parts = file_name.split("/")
    if any("/".join(parts[:i]) in disables for i in range(1, len(parts))):
        return True
    if not file_name.lower().endswith(EXTENSIONS):
        return False
    base = parts[-1]
    stem = base[: base.rfind(".")] if "." in base else base
    return stem in disables


def _objects(documents: Sequence[Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for doc in documents:
        if not isinstance(doc, Mapping):
            continue
        if str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
            found += [dict(item) for item in doc["items"] if isinstance(item, Mapping)]
        elif doc:
            found.append(dict(doc))
    return found


def deploy_files(
    files: Mapping[str, Sequence[Any]], disables: set[str], source: str = "manifests"
) -> DeployResult:
    """What the deploy controller does with ``files`` ({path relative to the manifests dir:
    parsed documents}) given the server's ``disable`` set."""
    result = DeployResult()
    names = [name.rsplit("/", 1)[-1] for name in files]
    skips = {name.removesuffix(".skip") for name in names if name.endswith(".skip")}
    by_addon: dict[str, AppliedFile] = {}
    for path in sorted(files):
        base = path.rsplit("/", 1)[-1]
        if _disabled(path, disables):
            result.deleted.append(path)
            continue
        if base.startswith(".") or base in skips or not base.lower().endswith(EXTENSIONS):
            if not base.endswith(".skip"):
                result.ignored.append(Finding(f"{source}/{path}", "not applied (skipped)"))
            continue
        applied = AppliedFile(path, addon_name(path), _objects(files[path]))
        if not _ADDON_NAME.fullmatch(applied.addon) or len(applied.addon) > 253:
            result.refused.append(
                Finding(
                    f"{source}/{path}",
                    f"never applied: Addon name {applied.addon!r} is not a valid object name "
                    "(lowercase letters, digits and '-')",
                )
            )
            continue
        previous = by_addon.get(applied.addon)
        if previous is not None:
            result.refused.append(
                Finding(
                    f"{source}/{previous.file}",
                    f"its objects are pruned: {path} is applied as the same Addon "
                    f"{applied.addon!r} (Addon names stop at the first '.')",
                )
            )
            result.applied.remove(previous)
        by_addon[applied.addon] = applied
        result.applied.append(applied)
    return result

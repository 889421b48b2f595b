"""Built-in ``doctor`` checks: Python, the ssh client, plugins, credentials, the state store."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import attrs

from ..config.references import Reference
from ..context import DoctorCheck, DoctorContext
from ..hookspecs import hookimpl
from ..model.cluster import PluginBlock


@hookimpl
def doctor_checks(context: DoctorContext) -> list[DoctorCheck]:
    checks = [_python(), _ssh_client(), *_plugins(context)]
    if context.config is not None:
        checks += _credentials(context)
    checks.append(_state(context.state_url))
    return checks


def _python() -> DoctorCheck:
    version = ".".join(map(str, sys.version_info[:3]))
    return DoctorCheck("python", "ok", f"Python {version} ({sys.executable})")


def _ssh_client() -> DoctorCheck:
    ssh = shutil.which("ssh")
    if ssh is None:
        return DoctorCheck(
            "ssh client",
            "fail",
            "ssh not found on PATH",
            "install OpenSSH's client (Debian/Ubuntu: apt-get install openssh-client)",
        )
    result = subprocess.run([ssh, "-V"], capture_output=True, text=True, check=False)
    return DoctorCheck("ssh client", "ok", (result.stderr or result.stdout).strip() or ssh)


def _plugins(context: DoctorContext) -> Iterator[DoctorCheck]:
    providers = context.catalog.names("provider")
    distros = context.catalog.names("distro")
    if providers and distros:
        yield DoctorCheck(
            "plugins", "ok", f"providers: {', '.join(providers)}; distros: {', '.join(distros)}"
        )
    else:
        missing = " and ".join(
            k for k, v in (("provider", providers), ("distro", distros)) if not v
        )
        yield DoctorCheck(
            "plugins",
            "warn",
            f"no {missing} plugin installed",
            "pip install 'sloth-kubernetes[all]' (or `make install` in a checkout)",
        )
    for failure in context.plugin_failures:
        yield DoctorCheck(
            "plugin load",
            "warn",
            failure,
            "reinstall or disable the plugin (SLOTH_DISABLE_PLUGINS=name)",
        )


def _references(value: Any, path: str) -> Iterator[tuple[str, Reference]]:
    if isinstance(value, Reference):
        yield path, value
    elif attrs.has(type(value)):
        for field in attrs.fields(type(value)):
            yield from _references(getattr(value, field.name), f"{path}.{field.name}")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _references(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _references(item, f"{path}[{index}]")


def _credentials(context: DoctorContext) -> Iterator[DoctorCheck]:
    assert context.config is not None
    for name, block in context.config.spec.providers.items():
        settings = block.settings if isinstance(block, PluginBlock) else None
        references = list(_references(settings, f"spec.providers.{name}"))
        if not references:
            yield DoctorCheck(f"credentials: {name}", "ok", "none needed")
            continue
        missing = [(path, ref) for path, ref in references if not ref.is_available()]
        if missing:
            yield DoctorCheck(
                f"credentials: {name}",
                "fail",
                "missing: " + ", ".join(f"{ref} ({path})" for path, ref in missing),
                "set the variables / create the files named (values are never printed)",
            )
        else:
            yield DoctorCheck(
                f"credentials: {name}",
                "ok",
                "present: " + ", ".join(str(ref) for _, ref in references),
            )


def _state(url: str | None) -> DoctorCheck:
    try:
        from ..state import open_store
    except ImportError:  # the state package arrives with the engine issue
        return DoctorCheck("state store", "warn", "state support not available in this build")
    try:
        store = open_store(url)
    except Exception as error:
        hint = getattr(error, "hint", None) or "check --state / SLOTH_STATE"
        return DoctorCheck("state store", "fail", str(error), hint)
    try:
        return DoctorCheck("state store", "ok", store.describe())
    finally:
        store.close()

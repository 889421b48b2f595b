"""Settings every distribution block shares (``spec.kubernetes.<distro>``), and their checks.

Distro plugins subclass :class:`DistroSettings` for their own block, override
:meth:`DistroSettings.flags` with their documented keys, and so get the checks of
``spec.kubernetes.serverConfig``/``agentConfig`` that the config loader runs (see
:meth:`DistroSettings.check_kubernetes`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import attrs

from ..config.references import Reference
from ..model.cluster import doc
from ..model.validators import in_range
from .flags import FlagCatalog, FlagProblem
from .installer import Installer


@attrs.frozen
class S3Target:
    """Where etcd snapshots are also uploaded. Credentials are references, never values."""

    bucket: str = attrs.field(metadata=doc("Bucket name."))
    endpoint: str = attrs.field(default="s3.amazonaws.com", metadata=doc("S3 endpoint host."))
    region: str | None = attrs.field(default=None, metadata=doc("Bucket region."))
    folder: str | None = attrs.field(default=None, metadata=doc("Folder in the bucket."))
    access_key: Reference = attrs.field(
        default=Reference("env", "AWS_ACCESS_KEY_ID"),
        metadata=doc("Access key id: ${env:…} or ${file:…} (default ${env:AWS_ACCESS_KEY_ID})."),
    )
    secret_key: Reference = attrs.field(
        default=Reference("env", "AWS_SECRET_ACCESS_KEY"),
        metadata=doc("Secret key: ${env:…} or ${file:…} (default ${env:AWS_SECRET_ACCESS_KEY})."),
    )


@attrs.frozen
class EtcdSnapshots:
    """Scheduled etcd snapshots on every server."""

    schedule: str = attrs.field(default="0 */12 * * *", metadata=doc("Cron schedule of snapshots."))
    retention: int = attrs.field(
        default=5, validator=in_range(1, 1000), metadata=doc("Snapshots kept per server.")
    )
    s3: S3Target | None = attrs.field(default=None, metadata=doc("Also upload to S3."))


@attrs.frozen
class AuditLog:
    """The API server's audit log (on by default with CIS hardening)."""

    enabled: bool | None = attrs.field(
        default=None, metadata=doc("Write an audit log (default: on with hardening: cis).")
    )
    policy: str | None = attrs.field(
        default=None,
        metadata=doc("Audit policy YAML (default: metadata level for everything)."),
    )
    max_age: int = attrs.field(default=30, metadata=doc("Days to keep old audit logs."))
    max_backup: int = attrs.field(default=10, metadata=doc("Rotated audit logs kept."))
    max_size: int = attrs.field(default=100, metadata=doc("MiB before the log rotates."))


@attrs.frozen
class DistroSettings:
    """Shared keys of every distribution block."""

    agent_batch_size: int = attrs.field(
        default=50,
        validator=in_range(1, 1000),
        metadata=doc("Agents joined at once; the next batch waits until these are registered."),
    )
    airgap: bool = attrs.field(
        default=False,
        metadata=doc("Also upload the release's container image bundle (nodes without internet)."),
    )
    mirror: str | None = attrs.field(
        default=None,
        metadata=doc("Base URL serving the release files instead of the official release."),
    )
    registration_address: str | None = attrs.field(
        default=None,
        metadata=doc("Address joining nodes register with (default: the first server's mesh IP)."),
    )
    ready_timeout: int = attrs.field(
        default=600,
        validator=in_range(10, 7200),
        metadata=doc("Seconds to wait for a node to become healthy before failing."),
    )
    readiness: Literal["api", "ssh"] = attrs.field(
        default="api",
        metadata=doc(
            "How Ready nodes are awaited: through the API endpoint from this machine, or with "
            "kubectl on the first server over SSH (when the API is not reachable from here)."
        ),
    )
    snapshots: EtcdSnapshots = attrs.field(
        factory=EtcdSnapshots, metadata=doc("etcd snapshot schedule, retention and S3 target.")
    )
    audit: AuditLog = attrs.field(factory=AuditLog, metadata=doc("API audit logging."))

    #: add-ons the distribution needs before the spec's own, selected with it (kubeadm: the
    #: standalone helm-controller every HelmChart-based plugin is installed through)
    implied_addons: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def installer(cls) -> Installer | None:
        """The distribution's installer (``artifacts`` and ``render`` find it here)."""
        return None

    @classmethod
    def flags(cls) -> FlagCatalog | None:
        """The distribution's documented keys (the installer's, by default)."""
        installer = cls.installer()
        return installer.flags if installer is not None else None

    @classmethod
    def check_kubernetes(cls, kubernetes: Mapping[str, Any]) -> list[FlagProblem]:
        """Check ``serverConfig``/``agentConfig`` against the distribution's documented keys.

        Called by the config loader with the raw ``spec.kubernetes`` mapping; problem paths are
        relative to ``spec.kubernetes``.
        """
        catalog = cls.flags()
        if catalog is None:
            return []
        problems: list[FlagProblem] = []
        for where, role in (("serverConfig", "server"), ("agentConfig", "agent")):
            extra = kubernetes.get(where)
            if isinstance(extra, Mapping):
                problems += catalog.check(role, extra, where)  # type: ignore[arg-type]
        return problems

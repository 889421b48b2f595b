from __future__ import annotations

import attrs
import click
from sloth_kubernetes.plugin import Addon, AddonManifests, ClusterConfig, doc, hookimpl


@attrs.frozen
class HelloSettings:
    """Settings of a `spec.addons[]` item with `name: hello`."""

    greeting: str = attrs.field(default="hello", metadata=doc("What to say."))
    replicas: int = attrs.field(default=1, metadata=doc("How many pods say it."))


def render(config: ClusterConfig, settings: HelloSettings | None) -> AddonManifests:
    settings = settings or HelloSettings()
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "hello", "namespace": "default"},
        "data": {"greeting": settings.greeting, "cluster": config.metadata.name},
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "hello", "namespace": "default"},
        "spec": {
            "replicas": settings.replicas,
            "selector": {"matchLabels": {"app": "hello"}},
            "template": {
                "metadata": {"labels": {"app": "hello"}},
                "spec": {
                    "containers": [
                        {
                            "name": "hello",
                            "image": "busybox:1.36",
                            "command": ["sh", "-c", "echo $GREETING; sleep infinity"],
                            "env": [
                                {
                                    "name": "GREETING",
                                    "valueFrom": {
                                        "configMapKeyRef": {"name": "hello", "key": "greeting"}
                                    },
                                }
                            ],
                        }
                    ]
                },
            },
        },
    }
    return AddonManifests([config_map, deployment])


class Hello(Addon):
    """The `hello` add-on, plus a `sloth-kubernetes hello` command."""

    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        @cli.command()
        def hello() -> None:
            """Say hello (from the example plugin)."""
            click.echo("hello from sloth-addon-hello")


PLUGIN = Hello("hello", "Says hello", settings=HelloSettings, render=render, requires=("cni",))

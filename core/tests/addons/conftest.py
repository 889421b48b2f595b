"""A Kubernetes API stand-in for the apply path: kmock's emulator (pinned 0.8) on 127.0.0.1, run
in a background thread, extended with what server-side apply needs and kmock 0.8 lacks.

Extensions (each mirrors the real API server's behaviour for our single field manager):

* server-side apply (``PATCH`` with ``application/apply-patch+yaml``) on an object that does not
  exist creates it (kmock answers 404);
* an apply replaces the object's content (one field manager owns every field it sets, so fields it
  no longer sets disappear, as with the real server) instead of kmock's dict merge;
* lists carry ``kind: <Kind>List`` and ``apiVersion`` (lightkube needs them);
* ``/api/v1/namespaces/NAME`` addresses the Namespace object NAME (kmock reads it as a namespace
  prefix without a resource, so namespaces could not be applied, fetched or deleted).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import attrs
import pytest


def _stand_in() -> type:
    """The stand-in's classes, built on kmock (imported here: without kmock only the tests that
    need the API are skipped)."""
    kmock = pytest.importorskip("kmock", reason="kmock==0.8 provides the Kubernetes API stand-in")
    from kmock._internal import enums, rendering

    APPLY = "application/apply-patch+yaml"

    _NAMESPACE_PATH = re.compile(r"^/api/v1/namespaces/([^/]+)$")
    _ACTIONS = {
        "GET": enums.action.FETCH,
        "PATCH": enums.action.UPDATE,
        "DELETE": enums.action.DELETE,
    }

    class ApplyingEmulator(kmock.KubernetesEmulator):  # type: ignore[misc]
        async def _handle(self, request: rendering.Request) -> Any:
            match = _NAMESPACE_PATH.match(request.url.path)
            if match and str(request.method.value) in _ACTIONS:
                request = attrs.evolve(
                    request,
                    resource=kmock.resource("", "v1", "namespaces"),
                    namespace=None,
                    name=match.group(1),
                    action=_ACTIONS[str(request.method.value)],
                )
            if (
                request.resource is not None
                and request.action == enums.action.UPDATE
                and request.headers.get("Content-Type", "").startswith(APPLY)
            ):
                key = (request.resource, request.namespace, request.name)
                body = request.data if isinstance(request.data, dict) else json.loads(request.data)
                async with self._lock:
                    if key not in self._objects or self._objects[key].deleted:
                        if key in self._objects:
                            self._objects[key].create(body)
                        else:
                            self._objects[key] = body
                    else:
                        current = self._objects[key].raw
                        meta = {**current.get("metadata", {}), **body.get("metadata", {})}
                        self._objects[key].create({**body, "metadata": meta})
                return await self._respond(self._objects[key].raw)
            return await super()._handle(request)

        async def _respond(self, raw: dict[str, Any]) -> Any:
            import aiohttp.web

            return aiohttp.web.json_response(raw)

        async def _serve_list(self, request: rendering.Request) -> Any:
            payload = await super()._serve_list(request)
            resource = request.resource
            info = self._resources.get(resource) if resource is not None else None
            kind = (getattr(info, "kind", None) or "Object") + "List"
            group = resource.group if resource is not None else ""
            version = resource.version if resource is not None else "v1"
            return {
                "apiVersion": f"{group}/{version}" if group else version,
                "kind": kind,
                **payload,
            }

    class KubeApi:
        """The running stand-in: ``url``, ``kubeconfig`` and ``objects()`` for assertions."""

        def __init__(self) -> None:
            self.loop = asyncio.new_event_loop()
            self.ready = threading.Event()
            self.stop = asyncio.Event()
            self.thread = threading.Thread(target=self._run, daemon=True, name="kube-api")
            self.url = ""
            self.emulator: ApplyingEmulator | None = None

        def _run(self) -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self._serve())

        async def _serve(self) -> None:
            self.stop = asyncio.Event()
            async with ApplyingEmulator() as emulator, kmock.Server(emulator) as server:
                self.emulator = emulator
                self.url = str(server.url).rstrip("/")
                self.ready.set()
                await self.stop.wait()

        def start(self) -> KubeApi:
            self.thread.start()
            if not self.ready.wait(10):
                raise RuntimeError("the Kubernetes API stand-in did not start")
            return self

        def close(self) -> None:
            self.loop.call_soon_threadsafe(self.stop.set)
            self.thread.join(10)
            self.loop.close()

        @property
        def kubeconfig(self) -> dict[str, Any]:
            return {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "test", "cluster": {"server": self.url}}],
                "users": [{"name": "test", "user": {"token": "test-token"}}],
                "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}],
                "current-context": "test",
            }

        def objects(self) -> dict[str, dict[str, Any]]:
            """Live objects by ``plural/namespace/name``."""
            assert self.emulator is not None
            found = {}
            for (resource, namespace, name), obj in list(self.emulator.objects.items()):
                if not obj.deleted:
                    found[f"{resource.plural}/{namespace or '-'}/{name}"] = obj.raw
            return found

    return KubeApi


@pytest.fixture
def kube_api() -> Iterator[Any]:
    api = _stand_in()().start()
    try:
        yield api
    finally:
        api.close()

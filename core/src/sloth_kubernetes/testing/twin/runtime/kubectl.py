"""The node-side ``kubectl`` (``k3s kubectl``; RKE2's ``<data-dir>/bin/kubectl``): a small
client of the twin's API, answering the forms the installers use. A real kubectl can be
pointed at the same API from outside with the fetched kubeconfig; the bundle does not carry one
(57 MB per node), so anything else is refused here, saying so."""

from __future__ import annotations

import base64
import json
import os
import re
import ssl
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from .config import parse_yaml

SUPPORTED = (
    "get --raw=PATH | get nodes|pods [-l SELECTOR] [--field-selector=SELECTOR] -o name|"
    "jsonpath=TEMPLATE | label node NAME KEY=VALUE [--overwrite]; global --kubeconfig, "
    "--server, --tls-server-name, -n"
)
_GLOBAL = {"--kubeconfig": "kubeconfig", "--server": "server", "-s": "server",
           "--tls-server-name": "tls-server-name", "-n": "namespace",
           "--namespace": "namespace"}  # fmt: skip


def _split(args: list[str]) -> tuple[dict[str, str], list[str]]:
    options: dict[str, str] = {}
    rest: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        name, equals, value = arg.partition("=")
        if name in _GLOBAL and equals:
            options[_GLOBAL[name]] = value
        elif arg in _GLOBAL and index + 1 < len(args):
            options[_GLOBAL[arg]] = args[index + 1]
            index += 1
        else:
            rest.append(arg)
        index += 1
    return options, rest


def main(args: list[str], default_kubeconfig: str) -> int:
    if len(args) == 1 and " " in args[0]:
        args = args[0].split()
    options, rest = _split(args)
    # K3s's kubectl reads $KUBECONFIG, else the admin kubeconfig (k3s-io/k3s pkg/kubectl/main.go)
    path = options.get("kubeconfig") or os.environ.get("KUBECONFIG") or default_kubeconfig
    with open(path, encoding="utf-8") as handle:
        config = parse_yaml(handle.read())
    if options.get("server"):
        config["clusters"][0]["cluster"]["server"] = options["server"]
    tls_name = options.get("tls-server-name", "")
    namespace = options.get("namespace", "")
    if len(rest) == 2 and rest[0] == "get" and rest[1].startswith("--raw="):
        code, body = _call(config, rest[1].split("=", 1)[1], tls_name=tls_name)
        if code != 200:
            print(
                f"Error from server (InternalError): {body.decode(errors='replace').strip()}",
                file=sys.stderr,
            )
            return 1
        print(body.decode())
        return 0
    if rest[:1] == ["get"] and len(rest) > 1 and rest[1] in ("nodes", "node", "pods", "pod"):
        kind = "node" if rest[1].startswith("node") else "pod"
        extra = rest[2:]
        selector, fields, output = "", "", ""
        while extra:
            if extra[0] == "-l" and len(extra) > 1:
                selector, extra = extra[1], extra[2:]
            elif extra[0].startswith("--field-selector="):
                fields, extra = extra[0].split("=", 1)[1], extra[1:]
            elif extra[0] == "--field-selector" and len(extra) > 1:
                fields, extra = extra[1], extra[2:]
            elif extra[0] == "-o" and len(extra) > 1:
                output, extra = extra[1], extra[2:]
            elif extra[0].startswith("-o="):
                output, extra = extra[0][3:], extra[1:]
            else:
                break
        if not extra and (output == "name" or output.startswith("jsonpath=")):
            query = {k: v for k, v in (("labelSelector", selector), ("fieldSelector", fields)) if v}
            where = f"/api/v1/namespaces/{namespace or 'default'}/pods" if kind == "pod" else (
                "/api/v1/nodes")  # fmt: skip
            suffix = "?" + urllib.parse.urlencode(query) if query else ""
            code, body = _call(config, where + suffix, tls_name=tls_name)
            if code != 200:
                print(f"Error from server: {body.decode(errors='replace')}", file=sys.stderr)
                return 1
            items = json.loads(body)["items"]
            if output == "name":
                print("".join(f"{kind}/{i['metadata']['name']}\n" for i in items), end="")
            else:
                print(_jsonpath(output.split("=", 1)[1], items), end="")
            return 0
    if rest[:1] == ["label"] and len(rest) >= 4 and rest[1] in ("node", "nodes"):
        labels = dict(arg.split("=", 1) for arg in rest[3:] if "=" in arg)
        patch = json.dumps({"metadata": {"labels": labels}}).encode()
        code, body = _call(config, f"/api/v1/nodes/{rest[2]}", tls_name=tls_name,
                           method="PATCH", body=patch)  # fmt: skip
        if code != 200:
            print(f"Error from server: {body.decode(errors='replace')}", file=sys.stderr)
            return 1
        print(f"node/{rest[2]} labeled")
        return 0
    print(
        f"sloth twin kubectl answers only: {SUPPORTED} (asked: {' '.join(rest)}); "
        "use a real kubectl with the admin kubeconfig",
        file=sys.stderr,
    )
    return 1


def _call(
    config: dict[str, Any], path: str, *, tls_name: str = "", method: str = "GET",
    body: bytes | None = None,
) -> tuple[int, bytes]:  # fmt: skip
    """One request with the kubeconfig's client certificate; ``tls_name``: the name the
    server's certificate must carry (``--tls-server-name``), else the CA alone is checked."""
    import http.client
    import socket

    cluster = config["clusters"][0]["cluster"]
    user = config["users"][0]["user"]
    with tempfile.TemporaryDirectory() as work:
        os.chmod(work, 0o700)
        files = {}
        for name, field in (
            ("ca", cluster["certificate-authority-data"]),
            ("crt", user["client-certificate-data"]),
            ("key", user["client-key-data"]),
        ):
            files[name] = f"{work}/{name}"
            with open(files[name], "wb") as handle:
                handle.write(base64.b64decode(field))
        context = ssl.create_default_context(cafile=files["ca"])
        context.load_cert_chain(files["crt"], files["key"])
        target = urllib.parse.urlsplit(cluster["server"])
        address = (target.hostname or "", target.port or 443)
        context.check_hostname = True  # as kubectl: the server certificate names the host

        class Connection(http.client.HTTPSConnection):
            def connect(self) -> None:
                raw = socket.create_connection(address, 15)
                self.sock = context.wrap_socket(raw, server_hostname=tls_name or address[0])

        connection = Connection(tls_name or address[0], address[1], context=context, timeout=15)
        try:
            headers = {"Content-Type": "application/merge-patch+json"} if body else {}
            connection.request(method, path, body=body, headers=headers)
            reply = connection.getresponse()
            return reply.status, reply.read()
        except (OSError, ssl.SSLError) as error:
            return 0, str(error).encode()
        finally:
            connection.close()


def _jsonpath(template: str, items: list[dict[str, Any]]) -> str:
    """``{range .items[*]}…{end}`` with ``{.a.b}``, ``{.a[?(@.k=="v")].f}`` and ``{"\\n"}``."""
    match = re.fullmatch(r"\{range \.items\[\*\]\}(.*)\{end\}", template, re.S)
    if not match:
        raise SystemExit(f"sloth twin kubectl: unsupported jsonpath {template!r}")
    parts = re.findall(r"\{([^}]*)\}|([^{]+)", match.group(1))
    out = []
    for item in items:
        for expression, literal in parts:
            if literal:
                out.append(literal)
            elif expression.startswith('"'):
                out.append(json.loads(expression))
            else:
                out.append(str(_path(item, expression)))
    return "".join(out)


def _path(obj: Any, expression: str) -> Any:
    node = obj
    for step in re.findall(r"\.([\w-]+)(\[\?\(@\.(\w+)==[\"']([^\"']*)[\"']\)\])?", expression):
        name, _, key, value = step
        node = node.get(name) if isinstance(node, dict) else None
        if key and isinstance(node, list):
            node = next((n for n in node if n.get(key) == value), None)
        if node is None:
            return ""
    return node

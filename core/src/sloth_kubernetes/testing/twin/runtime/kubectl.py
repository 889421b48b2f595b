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

SUPPORTED = "get --raw=PATH | get nodes [-l SELECTOR] -o name | get nodes -o jsonpath=TEMPLATE"


def main(args: list[str], default_kubeconfig: str) -> int:
    # K3s's kubectl reads $KUBECONFIG, else the admin kubeconfig (k3s-io/k3s pkg/kubectl/main.go)
    if args[:1] != ["--kubeconfig"]:
        args = ["--kubeconfig", os.environ.get("KUBECONFIG") or default_kubeconfig, *args]
    if len(args) < 2:
        print("sloth twin kubectl: --kubeconfig needs a file", file=sys.stderr)
        return 1
    with open(args[1], encoding="utf-8") as handle:
        config = parse_yaml(handle.read())
    rest = args[2:]
    if len(rest) == 1 and rest[0].startswith("get --raw="):
        rest = rest[0].split()
    if len(rest) == 2 and rest[0] == "get" and rest[1].startswith("--raw="):
        code, body = _call(config, rest[1].split("=", 1)[1])
        if code != 200:
            print(
                f"Error from server (InternalError): {body.decode(errors='replace').strip()}",
                file=sys.stderr,
            )
            return 1
        print(body.decode())
        return 0
    if rest[:2] == ["get", "nodes"]:
        options = rest[2:]
        selector, output = "", ""
        while options:
            if options[0] == "-l" and len(options) > 1:
                selector, options = options[1], options[2:]
            elif options[0] == "-o" and len(options) > 1:
                output, options = options[1], options[2:]
            elif options[0].startswith("-o="):
                output, options = options[0][3:], options[1:]
            else:
                break
        if not options and (output == "name" or output.startswith("jsonpath=")):
            query = "?" + urllib.parse.urlencode({"labelSelector": selector}) if selector else ""
            code, body = _call(config, f"/api/v1/nodes{query}")
            if code != 200:
                print(f"Error from server: {body.decode(errors='replace')}", file=sys.stderr)
                return 1
            items = json.loads(body)["items"]
            if output == "name":
                print("".join(f"node/{i['metadata']['name']}\n" for i in items), end="")
            else:
                print(_jsonpath(output.split("=", 1)[1], items), end="")
            return 0
    print(
        f"sloth twin kubectl answers only: {SUPPORTED} (asked: {' '.join(rest)}); "
        "use a real kubectl with the admin kubeconfig",
        file=sys.stderr,
    )
    return 1


def _call(config: dict[str, Any], path: str) -> tuple[int, bytes]:
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
        try:
            with urllib.request.urlopen(
                cluster["server"] + path, timeout=15, context=context
            ) as reply:
                return reply.status, bytes(reply.read())
        except urllib.error.HTTPError as error:
            return error.code, bytes(error.read())
        except OSError as error:
            return 0, str(error).encode()


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

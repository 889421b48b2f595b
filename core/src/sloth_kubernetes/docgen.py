"""Generate docs/reference/config.md from the models: ``python -m sloth_kubernetes.docgen DIR``.

A test compares the committed page with this output, so the reference cannot drift.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .config.schema import cluster_schema
from .plugins import create_plugin_manager


def _type_text(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if "anyOf" in schema:
        return " or ".join(_type_text(s) for s in schema["anyOf"])
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind == "array":
        return f"list of {_type_text(schema.get('items', {}))}"
    if kind == "string" and "pattern" in schema:
        return "reference"
    return str(kind)


def _rows(schema: dict[str, Any], prefix: str, out: list[str]) -> None:
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    for key, sub in properties.items():
        path = f"{prefix}.{key}" if prefix else key
        default = (
            f"`{sub['default']}`" if "default" in sub else ("required" if key in required else "")
        )
        description = sub.get("description", "").replace("|", "\\|")
        if (sub.get("type") == "object" and "properties" in sub) or (
            "anyOf" not in sub
            and sub.get("type") == "array"
            and "properties" in sub.get("items", {})
        ):
            kind = _type_text(sub) if sub.get("type") != "object" else "mapping"
            out.append(f"| `{path}` | {kind} | {default} | {description} |")
            inner = sub if sub.get("type") == "object" else sub["items"]
            _rows(inner, path + ("[]" if sub.get("type") == "array" else ""), out)
        elif ("anyOf" in sub and all("properties" in s for s in sub["anyOf"])) or (
            sub.get("type") == "array" and "anyOf" in sub.get("items", {})
        ):
            options = sub["anyOf"] if "anyOf" in sub else sub["items"]["anyOf"]
            out.append(f"| `{path}` | plugin block | {default} | {description} |")
            for option in options:
                selector = next((k for k, v in option["properties"].items() if "const" in v), None)
                label = f"{path}{'[]' if 'anyOf' not in sub else ''}"
                if selector:
                    label += f" ({selector}: {option['properties'][selector]['const']})"
                _rows(
                    {
                        **option,
                        "properties": {
                            k: v for k, v in option["properties"].items() if k != selector
                        },
                    },
                    label,
                    out,
                )
        else:
            out.append(f"| `{path}` | {_type_text(sub)} | {default} | {description} |")


def config_reference() -> str:
    schema = cluster_schema(create_plugin_manager().hooks.catalog())
    lines = [
        "# Config reference",
        "",
        "Generated from the models by `make docs` (`python -m sloth_kubernetes.docgen "
        "docs/reference`); a test fails when this page and the models disagree. It covers the "
        "core and the plugins installed in the workspace. Keys are camelCase; `reference` means "
        "`${env:NAME}` or `${file:PATH}`.",
        "",
        "| key | type | default | description |",
        "| --- | --- | --- | --- |",
    ]
    _rows(schema, "", lines)
    return "\n".join(lines) + "\n"


def main() -> None:
    if len(sys.argv) > 2 or (len(sys.argv) == 2 and sys.argv[1].startswith("-")):
        print("usage: python -m sloth_kubernetes.docgen [DIRECTORY]  (default docs/reference)")
        print("writes DIRECTORY/config.md, the configuration reference generated from the models")
        sys.exit(0 if sys.argv[1] in ("-h", "--help") else 2)
    directory = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/reference")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.md").write_text(config_reference(), encoding="utf-8")
    print(f"wrote {directory / 'config.md'}")


if __name__ == "__main__":
    main()

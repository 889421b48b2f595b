"""Import hosts from a ``terraform output -json`` file or an Ansible inventory (INI or YAML).

The mapping is documented in the README ("Importing hosts"); keep the two in step. Every problem
in an inventory file is reported at once, as a :class:`ConfigError` located in that file.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
from sloth_kubernetes.plugin import (
    ConfigError,
    ConfigIssue,
    make_converter,
    problems_from,
    render_path,
)

from .settings import SshHost

#: Ansible variables → host keys (the first variable present wins).
ANSIBLE_VARIABLES = {
    "address": ("ansible_host", "ansible_ssh_host"),
    "port": ("ansible_port", "ansible_ssh_port"),
    "user": ("ansible_user", "ansible_ssh_user"),
    "key": ("ansible_ssh_private_key_file",),
}
LABELS_VARIABLE = "sloth_labels"
_IMPLICIT_GROUPS = ("all", "ungrouped")
_GROUP_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$")
_RANGE = re.compile(r"\[([0-9]+):([0-9]+)\]")
#: Most hosts one inventory may name (ranges expanded); far beyond any cluster we build.
MAX_HOSTS = 10_000
#: Most values an inventory may hold once its YAML aliases are expanded.
MAX_VALUES = 100_000
#: Largest inventory file read.
MAX_BYTES = 8 * 1024 * 1024


@attrs.frozen
class ImportedHost:
    host: SshHost
    origin: str  # "FILE:LINE" or "FILE: output.value[2]", for messages


def import_hosts(kind: str, path: Path, output: str = "sloth_hosts") -> list[ImportedHost]:
    """The hosts of an inventory file; ``kind`` is ``terraform`` or ``ansible``."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise _error(path, 0, "", f"the {kind} inventory is larger than {MAX_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise _error(path, 0, "", f"the {kind} inventory is not UTF-8 text ({error})") from None
    except OSError as error:
        raise ConfigError(
            [
                ConfigIssue(
                    str(path), 0, 0, "", f"cannot read the {kind} inventory: {error.strerror}"
                )
            ],
            hint="check `inventory` under spec.providers.ssh (relative paths start at the "
            "config file's directory)",
        ) from None
    if kind == "terraform":
        return _structure(path, list(_terraform(path, text, output)))
    if path.suffix in (".yaml", ".yml") or text.lstrip().startswith(("all:", "---")):
        return _structure(path, list(_ansible_yaml(path, text)))
    return _structure(path, list(_ansible_ini(path, text)))


# --- Terraform -----------------------------------------------------------------------------


def _terraform(path: Path, text: str, output: str) -> Iterator[tuple[str, int, dict[str, Any]]]:
    try:
        outputs = json.loads(text)
    except RecursionError:
        raise _error(path, 0, "", "nested too deeply to be `terraform output -json`") from None
    except json.JSONDecodeError as error:
        raise _error(
            path,
            error.lineno,
            "",
            f"not JSON: {error.msg}",
            "write it with `terraform output -json > FILE`",
        ) from None
    if not isinstance(outputs, dict) or output not in outputs:
        names = ", ".join(sorted(outputs)) if isinstance(outputs, dict) else "none"
        raise _error(
            path,
            0,
            "",
            f"no output named {output!r} (outputs: {names or 'none'})",
            f'add `output "{output}"` to your Terraform (see the ssh provider\'s '
            "README), or set `inventory.output`",
        )
    entry = outputs[output]
    value = entry.get("value") if isinstance(entry, dict) else None
    where = f"{output}.value"
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield f"{where}[{index}]", 0, item if isinstance(item, dict) else {"": item}
    elif isinstance(value, dict):
        for name, item in value.items():
            host = {"address": item} if isinstance(item, str) else item
            raw = {"name": name, **host} if isinstance(host, dict) else {"": host}
            yield f"{where}.{name}", 0, raw
    else:
        raise _error(
            path,
            0,
            where,
            "expected a list of hosts or a map of name → host",
            'see the ssh provider\'s README, "Importing hosts"',
        )


# --- Ansible -------------------------------------------------------------------------------


@attrs.define
class _Group:
    name: str
    vars: dict[str, Any] = attrs.field(factory=dict)
    hosts: dict[str, dict[str, Any]] = attrs.field(factory=dict)  # host → its own vars
    children: list[str] = attrs.field(factory=list)


@attrs.define
class _Inventory:
    groups: dict[str, _Group] = attrs.field(factory=dict)
    first_seen: dict[str, int] = attrs.field(factory=dict)  # host → line (order of the file)

    def group(self, name: str) -> _Group:
        return self.groups.setdefault(name, _Group(name))

    def add_host(self, group: str, host: str, variables: dict[str, Any], line: int) -> None:
        self.group(group).hosts.setdefault(host, {}).update(variables)
        self.first_seen.setdefault(host, line)


def _expand(pattern: str, path: Path | None = None, line: int = 0) -> list[str]:
    """Ansible's numeric host ranges: ``web[01:03]`` → web01, web02, web03 (at most MAX_HOSTS:
    ``n[0:99999999]`` is a typo or an attack, not a cluster)."""
    count = 1
    for start, end in _RANGE.findall(pattern):
        count *= max(0, int(end) - int(start) + 1)
        if count > MAX_HOSTS:
            raise _error(
                path or Path("<inventory>"), line, "",
                f"{pattern!r} expands to more than {MAX_HOSTS} hosts",
                "check the range; split a very large inventory into several files",
            )  # fmt: skip
    match = _RANGE.search(pattern)
    if match is None:
        return [pattern]
    start, end = match.group(1), match.group(2)
    width = len(start) if start.startswith("0") else 0
    names = []
    for number in range(int(start), int(end) + 1):
        names += _expand(
            pattern[: match.start()] + str(number).zfill(width) + pattern[match.end() :]
        )
    return names


def _ini_value(text: str) -> Any:
    return int(text) if text.isdigit() else text


def _ansible_ini(path: Path, text: str) -> Iterator[tuple[str, int, dict[str, Any]]]:
    inventory = _Inventory()
    section, kind = "ungrouped", "hosts"
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section, _, kind = line[1:-1].partition(":")
            kind = kind or "hosts"
            if kind not in ("hosts", "vars", "children"):
                raise _error(
                    path,
                    number,
                    "",
                    f"unknown section kind {kind!r}",
                    "sections are [group], [group:vars] or [group:children]",
                )
            inventory.group(section)
            continue
        try:
            words = shlex.split(line, comments=True)
        except ValueError as error:
            raise _error(path, number, "", f"cannot parse this line: {error}") from None
        if kind == "children":
            inventory.group(section).children.append(words[0])
            inventory.group(words[0])
        elif kind == "vars":
            name, equals, value = line.partition("=")
            if not equals:
                raise _error(path, number, "", "expected `name=value` in a :vars section")
            inventory.group(section).vars[name.strip()] = _ini_value(value.strip().strip("\"'"))
        else:
            variables = {}
            for word in words[1:]:
                name, equals, value = word.partition("=")
                if not equals:
                    raise _error(path, number, "", f"expected `name=value`, got {word!r}")
                variables[name] = _ini_value(value)
            for host in _expand(words[0], path, number):
                inventory.add_host(section, host, variables, number)
    yield from _resolve(path, inventory)


def _ansible_yaml(path: Path, text: str) -> Iterator[tuple[str, int, dict[str, Any]]]:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    yaml = YAML(typ="rt")
    yaml.max_depth = 64  # ruamel's own bound: deeper nesting is an error, not a RecursionError
    try:
        data = yaml.load(text)
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise _error(path, mark.line + 1 if mark else 0, "", f"invalid YAML: {error}") from None
    inventory = _Inventory()
    if not isinstance(data, dict):
        raise _error(path, 1, "", "expected a mapping of groups (e.g. `all:`)")
    _refuse_alias_bombs(path, data)

    def walk(name: str, body: Any) -> None:
        group = inventory.group(name)
        if body is None:
            return
        if not isinstance(body, dict):
            raise _error(
                path, _line(body), name, "a group must be a mapping of hosts/vars/children"
            )
        for host, variables in (body.get("hosts") or {}).items():
            line = _line_of_key(body.get("hosts"), host)
            for expanded in _expand(str(host), path, line):
                inventory.add_host(name, expanded, dict(variables or {}), line)
        group.vars.update(dict(body.get("vars") or {}))
        for child, child_body in (body.get("children") or {}).items():
            group.children.append(child)
            walk(child, child_body)

    for name, body in data.items():
        walk(name, body)
    yield from _resolve(path, inventory)


def _refuse_alias_bombs(path: Path, data: Any) -> None:
    """Count the values the document holds with its aliases expanded, up to MAX_VALUES: a few
    hundred bytes of nested aliases (a "billion laughs") would otherwise expand when a value is
    copied or printed."""
    stack, seen = [data], 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            raise _error(
                path, 0, "", f"aliases expand to more than {MAX_VALUES} values",
                "an inventory needs no nested aliases; write the values out",
            )  # fmt: skip
        if isinstance(node, dict):
            stack += node.values()
        elif isinstance(node, list):
            stack += node


def _line(node: Any) -> int:
    lc = getattr(node, "lc", None)
    return lc.line + 1 if lc is not None else 0


def _line_of_key(mapping: Any, key: Any) -> int:
    try:
        return int(mapping.lc.key(key)[0]) + 1
    except (AttributeError, KeyError, TypeError):
        return 0


def _parents(inventory: _Inventory) -> dict[str, set[str]]:
    parents: dict[str, set[str]] = {}
    for group in inventory.groups.values():
        for child in group.children:
            parents.setdefault(child, set()).add(group.name)
    return parents


def _depths(inventory: _Inventory) -> dict[str, int]:
    """Each group's depth below ``all`` (Ansible merges shallower groups' vars first)."""
    parents = _parents(inventory)
    depths: dict[str, int] = {"all": 0}

    def depth(name: str, visiting: frozenset[str]) -> int:
        if name not in depths:
            above = [p for p in parents.get(name, {"all"}) if p not in visiting] or ["all"]
            depths[name] = 1 + max(depth(p, visiting | {name}) for p in above)
        return depths[name]

    return {name: depth(name, frozenset()) for name in [*inventory.groups, "all"]}


def _memberships(inventory: _Inventory) -> dict[str, set[str]]:
    parents = _parents(inventory)
    members: dict[str, set[str]] = {}
    for group in inventory.groups.values():
        for host in group.hosts:
            todo, seen = [group.name], set()
            while todo:
                name = todo.pop()
                if name not in seen:
                    seen.add(name)
                    todo += parents.get(name, ())
            members.setdefault(host, set()).update(seen)
    return members


def _resolve(path: Path, inventory: _Inventory) -> Iterator[tuple[str, int, dict[str, Any]]]:
    depths = _depths(inventory)
    memberships = _memberships(inventory)
    for host, line in sorted(inventory.first_seen.items(), key=lambda item: item[1]):
        groups = sorted(memberships.get(host, set()) | {"all"}, key=lambda g: (depths[g], g))
        variables: dict[str, Any] = {}
        for name in groups:
            variables.update(inventory.groups[name].vars if name in inventory.groups else {})
        for name in groups:  # host vars win over every group's
            variables.update(inventory.groups.get(name, _Group(name)).hosts.get(host, {}))
        raw: dict[str, Any] = {"name": host, "address": host}
        for key, names in ANSIBLE_VARIABLES.items():
            for variable in names:
                if variable in variables:
                    raw[key] = variables[variable]
                    break
        labels = {g: "true" for g in groups if g not in _IMPLICIT_GROUPS and _GROUP_LABEL.match(g)}
        labels.update(_labels_variable(path, line, variables.get(LABELS_VARIABLE)))
        raw["labels"] = labels
        yield host, line, raw


def _labels_variable(path: Path, line: int, value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    labels = {}
    for item in str(value).split(","):
        key, equals, label = item.strip().partition("=")
        if not equals:
            raise _error(path, line, LABELS_VARIABLE, f"expected key=value pairs, got {item!r}")
        labels[key.strip()] = label.strip()
    return labels


# --- common --------------------------------------------------------------------------------


def _error(path: Path, line: int, where: str, message: str, hint: str | None = None) -> ConfigError:
    return ConfigError([ConfigIssue(str(path), line, 1 if line else 0, where, message, hint)])


def _structure(path: Path, items: list[tuple[str, int, dict[str, Any]]]) -> list[ImportedHost]:
    """Validate each imported host with the same model (and messages) as ``hosts`` items."""
    converter = make_converter()
    hosts, issues = [], []
    for where, line, raw in items:
        if "" in raw:
            issues.append(ConfigIssue(str(path), line, 0, where, "expected a host mapping"))
            continue
        if isinstance(raw.get("port"), str) and raw["port"].isdigit():
            raw["port"] = int(raw["port"])  # Terraform map(string) and INI values are text
        try:
            host = converter.structure(raw, SshHost)
        except Exception as error:
            for problem in problems_from(error):
                issues.append(
                    ConfigIssue(
                        str(path),
                        line,
                        1 if line else 0,
                        render_path((where, *problem.path)),
                        problem.message,
                        problem.hint,
                    )
                )
            continue
        if host.key is not None:
            key = Path(host.key).expanduser()
            host = attrs.evolve(host, key=str(key if key.is_absolute() else path.parent / key))
        hosts.append(ImportedHost(host, f"{path}:{line}" if line else f"{path}: {where}"))
    if issues:
        raise ConfigError(
            issues,
            hint="fix the inventory file; the ssh provider's README "
            "documents which outputs/variables are read",
        )
    return hosts

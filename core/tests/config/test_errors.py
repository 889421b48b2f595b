"""Config errors: every problem of a file in one run, located, with hints."""

from __future__ import annotations

import pytest
from sloth_kubernetes.config import load_config
from sloth_kubernetes.errors import ConfigError

BAD = """\
apiVersion: sloth-kubernetes.io/v1beta1
kind: Cluster
metadata:
  name: Bad_Name
spec:
  providers:
    dummy: {netwrk: 10.0.0.0/8}
  nodePools:
    - name: servers
      provider: dumy
      roles: [server, agnt]
      count: "3"
    - name: servers
      provider: dummy
  mesh: {type: wiregard}
  kubernetes:
    distribution: k3z
  extra: 1
"""


def issues_of(path, manager):
    with pytest.raises(ConfigError) as caught:
        load_config([path], manager.hooks.catalog())
    return caught.value.issues


def test_every_problem_is_reported_once_with_line_and_column(
    config_factory, sloth_manager, dummy_provider
):
    path = config_factory(text=BAD)
    found = {(i.line, i.column, i.path): i for i in issues_of(path, sloth_manager)}
    expected = {
        (4, 9, "metadata.name"),
        (7, 13, "spec.providers.dummy.netwrk"),
        (10, 17, "spec.nodePools[0].provider"),
        (11, 23, "spec.nodePools[0].roles[1]"),
        (12, 14, "spec.nodePools[0].count"),
        (13, 13, "spec.nodePools[1].name"),
        (15, 16, "spec.mesh.type"),
        (17, 19, "spec.kubernetes.distribution"),
        (18, 3, "spec.extra"),
    }
    assert expected <= set(found), sorted(found)
    assert "did you mean 'network'" in found[(7, 13, "spec.providers.dummy.netwrk")].hint
    assert "did you mean 'dummy'" in found[(10, 17, "spec.nodePools[0].provider")].hint
    assert "did you mean 'agent'" in found[(11, 23, "spec.nodePools[0].roles[1]")].hint
    assert "without quotes" in found[(12, 14, "spec.nodePools[0].count")].hint
    assert "did you mean 'k3s'" in found[(17, 19, "spec.kubernetes.distribution")].hint


def test_rendered_issue_format_is_file_line_col_key_message_hint(
    config_factory, sloth_manager, dummy_provider
):
    path = config_factory(text=BAD)
    rendered = [i.render() for i in issues_of(path, sloth_manager)]
    assert f"{path}:18:3: spec.extra: unknown key 'extra' (" in "\n".join(rendered)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("a: [\n", 2, "YAML syntax error"),
        ("kind: Cluster\nkind: Cluster\n", 2, "duplicate key 'kind'"),
        ("", 1, "the file is empty"),
        ("- a\n- b\n", 1, "must be a mapping"),
        ("---\na: 1\n---\nb: 2\n", 0, "more than one YAML document"),
    ],
)
def test_yaml_level_errors_are_located(config_factory, sloth_manager, text, line, message):
    issues = issues_of(config_factory(text=text), sloth_manager)
    assert len(issues) == 1
    assert message in issues[0].message
    assert issues[0].line == line


def test_missing_file_is_a_config_error(sloth_manager, tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config([tmp_path / "nope.yaml"], sloth_manager.hooks.catalog())


def test_even_number_of_servers_is_refused_with_quorum_explanation(
    config_factory, sloth_manager, dummy_provider
):
    path = config_factory(
        {
            "spec": {
                "nodePools": [{"name": "s", "provider": "dummy", "count": 2, "roles": ["server"]}]
            }
        }
    )
    (issue,) = issues_of(path, sloth_manager)
    assert "even number" in issue.message
    assert "1 or 3" in issue.hint


def test_pool_without_server_is_refused(config_factory, sloth_manager, dummy_provider):
    path = config_factory({"spec": {"nodePools": [{"name": "a", "provider": "dummy"}]}})
    assert "no node has the `server` role" in issues_of(path, sloth_manager)[0].message


def test_exactly_one_default_storage_class(config_factory, sloth_manager, dummy_provider):
    two = {
        "spec": {
            "storage": [
                {
                    "type": "local-path",
                    "classes": [{"name": "a", "default": True}, {"name": "b", "default": True}],
                }
            ]
        }
    }
    (issue,) = issues_of(config_factory(two), sloth_manager)
    assert issue.path == "spec.storage[0].classes[1].default"
    none = {"spec": {"storage": [{"type": "local-path", "classes": [{"name": "a"}]}]}}
    assert (
        "no storage class is the default"
        in issues_of(config_factory(none), sloth_manager)[0].message
    )


def test_cni_that_does_not_support_the_distro_names_compatible_ones(
    config_factory, sloth_manager, register_plugin, dummy_provider
):
    from sloth_kubernetes.hookspecs import hookimpl
    from sloth_kubernetes.registry import Component

    class OtherDistro:
        @hookimpl
        def register_distros(self, register):
            register(Component("distro", "otherdistro", "a second distro for this test"))

    register_plugin(OtherDistro(), "otherdistro")
    path = config_factory(
        {"spec": {"kubernetes": {"distribution": "otherdistro", "cni": {"type": "flannel"}}}}
    )
    (issue,) = issues_of(path, sloth_manager)
    assert issue.path == "spec.kubernetes.cni.type"
    assert "does not support distribution 'otherdistro'" in issue.message
    assert issue.hint == (
        "no cni plugin supports otherdistro yet: remove it, or choose distribution k3s"
    )


def test_distro_block_for_another_distribution_is_an_error(
    config_factory, sloth_manager, dummy_provider
):
    path = config_factory({"spec": {"kubernetes": {"distribution": "k3s"}}}, name="a.yaml")
    text = path.read_text().replace(
        "distribution: k3s", "distribution: k3s\n    k3s:\n      dataDir: /srv/k3s"
    )
    config = load_config([config_factory(text=text)], sloth_manager.hooks.catalog())
    assert config.spec.kubernetes.distro.settings.data_dir == "/srv/k3s"
    bad = text.replace("dataDir: /srv/k3s", "dataDirr: /srv/k3s")
    (issue,) = issues_of(config_factory(text=bad), sloth_manager)
    assert issue.path == "spec.kubernetes.k3s.dataDirr"
    assert "did you mean 'dataDir'" in issue.hint


def test_optional_lists_and_mappings_are_checked_item_by_item():
    import attrs
    from sloth_kubernetes.config.convert import make_converter, problems_from

    @attrs.frozen
    class Block:
        names: list[str] | None = None
        sizes: dict[str, int] | None = None

    converter = make_converter()
    assert converter.structure({"names": ["a"], "sizes": {"x": 1}}, Block) == Block(["a"], {"x": 1})
    for value, path, message in (
        ({"names": "a"}, ("names",), "expected a list, got a string 'a'"),
        ({"names": [1]}, ("names", 0), "expected a string, got an integer 1"),
        ({"sizes": {"x": "big"}}, ("sizes", "x"), "expected an integer, got a string 'big'"),
    ):
        with pytest.raises(Exception) as caught:  # noqa: PT011 -- cattrs' group; checked below
            converter.structure(value, Block)
        (problem,) = problems_from(caught.value)
        assert (problem.path, problem.message) == (path, message)


API_ACCESS = """\
apiVersion: sloth-kubernetes.io/v1beta1
kind: Cluster
metadata: {name: demo}
spec:
  providers: {dummy: {}}
  nodePools: [{name: servers, provider: dummy, roles: [server]}]
  security:
    %s
"""


@pytest.mark.parametrize(
    ("line", "key", "message", "hint"),
    [
        (
            "apiAllowedCIDRs: [203.0.113.0/24, 10.0.0.300/8]",
            "spec.security.apiAllowedCIDRs",
            "'10.0.0.300/8' is not an IP network",
            "CIDR form",
        ),
        (
            "apiAllowedCidrs: [0.0.0.0/0]",
            "spec.security.apiAllowedCidrs",
            "unknown key 'apiAllowedCidrs'",
            "did you mean 'apiAllowedCIDRs'",
        ),
    ],
)
def test_api_allowed_cidrs_errors_are_located(
    config_factory, sloth_manager, dummy_provider, line, key, message, hint
):
    path = config_factory(text=API_ACCESS % line)
    (issue,) = issues_of(path, sloth_manager)
    assert (issue.line, issue.path) == (8, key)
    assert message in issue.message
    assert hint in issue.hint

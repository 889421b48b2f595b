"""Property tests: whatever text or tree a config file holds, loading it ends in a validated
config or a ConfigError whose issues are located in that file — never another exception."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from sloth_kubernetes.config import load_config_text
from sloth_kubernetes.errors import ConfigError

BASE = """\
apiVersion: sloth-kubernetes.io/v1beta1
kind: Cluster
metadata: {name: fuzz}
spec:
  providers: {local: {mode: fast}}
  nodePools:
    - {name: servers, provider: local, count: 1, roles: [server]}
  mesh: {type: wireguard}
  kubernetes: {distribution: k3s}
"""

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
    st.text(max_size=20), st.sampled_from(["${env:X}", "${file:/nope}", "*", "&", "!!str"]),
)  # fmt: skip
trees = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def catalog():
    from sloth_kubernetes.api import plugin_manager

    return plugin_manager().hooks.catalog()


def check(text: str, catalog) -> None:
    """A validated config, or a ConfigError with issues in this file; anything else fails."""
    issues = []
    try:
        load_config_text(text, catalog, file="fuzz.yaml")
    except ConfigError as error:
        issues = error.issues or [None]
    assert all(issue and issue.file in ("fuzz.yaml", "<config>") for issue in issues)


@FUZZ
@given(data=st.data())
def test_any_bytes_spliced_into_a_config(catalog, data) -> None:
    at = data.draw(st.integers(0, len(BASE)))
    cut = data.draw(st.integers(0, 20))
    insert = data.draw(st.text(max_size=30))
    check(BASE[:at] + insert + BASE[at + cut :], catalog)


@FUZZ
@given(spec=trees, metadata=trees)
def test_any_tree_in_place_of_the_spec(catalog, spec, metadata) -> None:
    import io

    stream = io.StringIO()
    YAML().dump(
        {"apiVersion": "sloth-kubernetes.io/v1beta1", "kind": "Cluster",
         "metadata": metadata, "spec": spec},
        stream,
    )  # fmt: skip
    check(stream.getvalue(), catalog)

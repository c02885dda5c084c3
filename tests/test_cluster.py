"""cluster.yaml passes Ray's own cluster-config schema validation (offline, no cloud calls)."""

import yaml
from ray.autoscaler._private.commands import prepare_config
from ray.autoscaler._private.util import validate_config

from conftest import REPO_ROOT


def test_cluster_yaml_validates_with_rays_schema():
    config = yaml.safe_load((REPO_ROOT / "cluster.yaml").read_text())
    filled = prepare_config(config)
    validate_config(filled)
    workers = filled["available_node_types"]["gpu_worker"]
    assert workers["node_config"]["InstanceMarketOptions"]["MarketType"] == "spot"
    assert 0 == workers["min_workers"] < workers["max_workers"]
    assert any("uv sync --locked" in command for command in filled["setup_commands"])


def test_schema_validation_catches_a_bad_key():
    import jsonschema
    import pytest

    config = yaml.safe_load((REPO_ROOT / "cluster.yaml").read_text())
    config["max_wrokers"] = 3
    with pytest.raises(jsonschema.ValidationError, match="max_wrokers"):
        validate_config(prepare_config(config))

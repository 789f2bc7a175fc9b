"""The table of job kinds drives the config model, the program and promotion: a kind is one entry."""

from __future__ import annotations

from components.job_kinds import EVENT_SOURCES, JOB_CONFIG_KEYS, JOB_KINDS, StackConfig
from tools import promote


def test_every_kind_is_one_config_map_with_its_model() -> None:
    assert StackConfig.job_keys() == {kind.field_name: kind.config_key for kind in JOB_KINDS}
    for kind in JOB_KINDS:
        annotation = StackConfig.model_fields[kind.field_name].annotation
        assert annotation.__args__[1] is kind.model


def test_promotion_reads_images_from_every_kind() -> None:
    # One job under each kind's key (bare or namespaced, as the CLI accepts both), plus another provider's key.
    config = {
        **{
            kind.config_key if index % 2 else kind.key: {f"job-{kind.key.lower()}": {"image": "x"}}
            for index, kind in enumerate(JOB_KINDS)
        },
        "azure-native:location": "koreacentral",
    }
    assert set(promote.stack_jobs({"config": config})) == {f"job-{kind.key.lower()}" for kind in JOB_KINDS}
    assert set(JOB_CONFIG_KEYS) == {f"aca-jobs:{kind.key}" for kind in JOB_KINDS}


def test_each_kind_has_its_own_trigger_and_each_component_its_own_type_token() -> None:
    assert len({kind.trigger_type for kind in JOB_KINDS}) == len(JOB_KINDS)
    components = [component for kind in JOB_KINDS for component in kind.components.values()]
    assert len({component.TYPE for component in components}) == len(components) == 5
    # Released tokens never change: every deployed job's URNs hold them.
    assert {component.TYPE for component in components} >= {
        "aca-jobs:index:ManualJob",
        "aca-jobs:index:ScheduledJob",
        "aca-jobs:index:ServiceBusEventJob",
    }


def test_each_event_source_is_one_entry_with_its_block_model_and_component() -> None:
    event_kind = next(kind for kind in JOB_KINDS if kind.key == "eventJobs")
    assert {source.model.SOURCE_KEY for source in EVENT_SOURCES} == {"queue", "storageQueue", "eventHub"}
    assert event_kind.components == {source.model: source.component for source in EVENT_SOURCES}
    assert dict(event_kind.model.SOURCE_MODELS) == {source.model.SOURCE_KEY: source.model for source in EVENT_SOURCES}

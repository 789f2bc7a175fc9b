"""The pack's stack policies grow linearly with the stack (issue 20), and decide exactly as a scan of every job would.

AnalyzeStack runs every stack policy over every resource of the stack; a policy that, for each grant, rule or job,
reads every job or every resource again makes a 300-job preview quadratic. These tests count the work (calls of the
per-job checks, of `ArmId.try_parse` and of `plain`) on synthetic stacks of N and 2N jobs: linear work at most
doubles, quadratic work quadruples. No timing. The equivalence tests pin the decisions and messages in the cases
an index could lose: an identity a job uses only through the graph, identitySettings or identity lists not known
during preview, rules whose query is not known, names that only a substring test matches.

The stacks are built as the SDK builds what a stack policy receives (pulumi_policy `policy.py`,
`_PolicyAnalyzerServicer.AnalyzeStack`): each resource's outputs deserialized and wrapped in the proxy that raises
on unknowns, parents and dependencies resolved to the resource objects by URN.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from google.protobuf import json_format
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import PolicyResource, StackValidationArgs, StackValidationPolicy
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.policy import PolicyCustomTimeouts, PolicyResourceOptions
from pulumi_policy.proxy import unknown_checking_proxy

from components.operations import failed_events_query
from policy import aca_jobs_policies as policies
from policy.aca_facts.arm_id import ArmId
from policy.aca_facts.roles import ACR_PULL, SERVICE_BUS_DATA_OWNER, STORAGE_QUEUE_DATA_READER
from tools.offline import UNKNOWN

SUBSCRIPTION = "5b0c2d1e-7f3a-4e8b-9c6d-1a2b3c4d5e6f"
GROUP = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-scale"
REGISTRY_ID = f"{GROUP}/providers/Microsoft.ContainerRegistry/registries/acrscale"
ACCOUNT_ID = f"{GROUP}/providers/Microsoft.Storage/storageAccounts/stscale"
ACTION_GROUP_ID = f"{GROUP}/providers/Microsoft.Insights/actionGroups/ag-scale"
STACK_POLICIES = [p for p in policies.POLICIES if isinstance(p, StackValidationPolicy)]


def role(guid: str) -> str:
    return f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def identity_id(name: str) -> str:
    return f"{GROUP}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"


def queue_id(name: str) -> str:
    return f"{GROUP}/providers/Microsoft.ServiceBus/namespaces/sb-scale/queues/{name}"


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:test::aca-jobs::{type_}::{name}"


# --- a stack as the engine sends it -------------------------------------------------------------------------


class Stack:
    """Resources in registration order, as AnalyzeStack receives them: outputs, parent, dependencies."""

    def __init__(self) -> None:
        self.resources: list[analyzer_pb2.AnalyzerResource] = []

    def add(
        self,
        type_: str,
        name: str,
        props: dict[str, Any],
        parent: str = "",
        dependencies: dict[str, list[str]] | None = None,
    ) -> str:
        resource = analyzer_pb2.AnalyzerResource(type=type_, name=name, urn=urn(type_, name), parent=parent)
        resource.properties.update(props)
        for key, urns in (dependencies or {}).items():
            resource.propertyDependencies[key].urns.extend(urns)
            resource.dependencies.extend(u for u in urns if u not in resource.dependencies)
        self.resources.append(resource)
        return resource.urn

    def find(self, type_: str, name: str) -> analyzer_pb2.AnalyzerResource:
        [found] = [r for r in self.resources if (r.type, r.name) == (type_, name)]
        return found

    def edit(self, type_: str, name: str, change: Callable[[dict[str, Any]], Any]) -> None:
        resource = self.find(type_, name)
        props = json_format.MessageToDict(resource.properties)
        change(props)
        resource.properties.Clear()
        resource.properties.update(props)

    def depend(self, type_: str, name: str, key: str, on: tuple[str, str]) -> None:
        """One more property dependency of (type_, name)'s `key` on the resource `on`."""
        resource, target = self.find(type_, name), self.find(*on)
        resource.propertyDependencies[key].urns.append(target.urn)
        resource.dependencies.append(target.urn)

    def args(self) -> StackValidationArgs:
        """What a stack policy's `validate` receives (pulumi_policy `policy.py` `AnalyzeStack`)."""
        built: dict[str, PolicyResource] = {}
        resources = []
        for r in self.resources:
            props = unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(r.properties)))
            options = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], r.parent or None)
            resource = PolicyResource(r.type, props, r.urn, r.name, options, None, None, [], {})
            built[r.urn] = resource
            resources.append((resource, r))
        for resource, r in resources:
            resource.parent = built.get(r.parent)
            resource.dependencies = [built[d] for d in r.dependencies if d in built]
            resource.property_dependencies = {
                key: [built[d] for d in value.urns if d in built] for key, value in r.propertyDependencies.items()
            }
        return StackValidationArgs([resource for resource, _ in resources])


def add_job(stack: Stack, name: str, by_graph: bool = True) -> None:
    """An event job as aca-jobs registers it: a scaler identity holding Data Owner on its queue (listed with
    lifecycle `None`), a workload identity pulling from the registry, its failure alert. `by_graph`: the grants
    name their identity through the graph (a first preview) or only by principal id (ids known)."""
    identities = {}
    for kind in ("scaler", "workload"):
        own = f"{name}-{kind}"
        identities[kind] = stack.add(
            policies.IDENTITY, own, {"id": identity_id(own), "principalId": f"{len(stack.resources):08d}-{kind}"}
        )
    for kind, guid, scope in (
        ("scaler", SERVICE_BUS_DATA_OWNER.guid, queue_id(name)),
        ("workload", ACR_PULL.guid, REGISTRY_ID),
        ("workload", STORAGE_QUEUE_DATA_READER.guid, ACCOUNT_ID),
    ):
        principal = (
            json_format.MessageToDict(stack.find(policies.IDENTITY, f"{name}-{kind}").properties)["principalId"]
            if not by_graph
            else UNKNOWN
        )
        stack.add(
            policies.ROLE_ASSIGNMENT,
            f"{name}-{kind}-{guid[:8]}",
            {"roleDefinitionId": role(guid), "scope": scope, "principalId": principal},
            dependencies={"principalId": [identities[kind]]} if by_graph else None,
        )
    scaler, workload = identity_id(f"{name}-scaler"), identity_id(f"{name}-workload")
    stack.add(
        policies.JOB,
        name,
        {
            "jobName": name,
            "identity": {"type": "UserAssigned", "userAssignedIdentities": [scaler, workload]},
            "configuration": {
                "triggerType": "Event",
                "identitySettings": [
                    {"identity": scaler, "lifecycle": "None"},
                    {"identity": workload, "lifecycle": "Main"},
                ],
                "registries": [{"server": "acrscale.azurecr.io", "identity": workload}],
                "eventTriggerConfig": {"scale": {"rules": [{"name": "queue", "identity": scaler}]}},
            },
            "template": {"containers": [{"name": "main", "env": [{"name": "AZURE_CLIENT_ID", "value": UNKNOWN}]}]},
        },
        dependencies={"identity": list(identities.values()), "template": [identities["workload"]]},
    )
    stack.add(
        policies.SCHEDULED_QUERY_RULE,
        f"{name}-failed-executions",
        {
            "enabled": True,
            "criteria": {"allOf": [{"query": failed_events_query(name)}]},
            "actions": {"actionGroups": [ACTION_GROUP_ID]},
        },
    )


def synthetic(jobs: int, by_graph: bool = True) -> Stack:
    stack = Stack()
    stack.add(policies.ACTION_GROUP, "action-group", {"enabled": True, "emailReceivers": [{"name": "on-call"}]})
    for index in range(jobs):
        add_job(stack, f"job-{index:04d}", by_graph)
    return stack


def review(stack: Stack) -> dict[str, list[tuple[str, str | None]]]:
    """Every stack policy's reports, in the order made: policy name -> (message, urn)."""
    args = stack.args()
    found: dict[str, list[tuple[str, str | None]]] = {}
    for policy in STACK_POLICIES:
        made: list[tuple[str, str | None]] = []
        policy.validate(args, lambda message, urn=None, made=made: made.append((message, urn)))
        if made:
            found[policy.name] = made
    return found


# --- the work grows linearly --------------------------------------------------------------------------------


@contextmanager
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Counts calls of the pack's per-job and per-rule checks, of `ArmId.try_parse` (every id comparison parses) and
    of `plain` (every read of a resource's outputs, each nested value counted) while in the block."""
    calls: Counter[str] = Counter()

    def counting(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return function(*args, **kwargs)

        return wrapper

    with monkeypatch.context() as patch:
        for name in ("_check_owner_unreachable", "_counts_failures_of", "_notify_problem", "_group_problem", "plain"):
            patch.setattr(policies, name, counting(name, getattr(policies, name)))
        parse = ArmId.try_parse.__func__  # type: ignore[attr-defined]
        patch.setattr(ArmId, "try_parse", classmethod(counting("ArmId.try_parse", parse)))
        yield calls


@pytest.mark.parametrize("by_graph", [True, False], ids=["first-preview", "ids-known"])
@pytest.mark.parametrize("policy", STACK_POLICIES, ids=lambda p: p.name)
def test_a_stack_policys_work_grows_linearly_with_the_jobs(monkeypatch, policy, by_graph: bool) -> None:
    """Every Data Owner grant, AcrPull grant and failure alert of a compliant stack, granted by the graph (a first
    preview) or only by principal id (ids known): the work of 40 jobs is at most twice that of 20."""
    work = {}
    for jobs in (20, 40):
        args = synthetic(jobs, by_graph).args()
        with counted(monkeypatch) as calls:
            policy.validate(args, lambda message, urn=None: pytest.fail(message))
        work[jobs] = calls
    assert work[20]["plain"] > 0
    # Linear work doubles (plus what is read once per stack); a scan of every job per job quadruples.
    for what in work[20] | work[40]:
        assert work[40][what] <= 2 * work[20][what] + 10, (what, work[20][what], work[40][what])


# --- the same decisions, in the same order ------------------------------------------------------------------

SCALER_0 = (policies.IDENTITY, "job-0000-scaler")
JOB_0, JOB_1, JOB_2 = ((policies.JOB, f"job-{i:04d}") for i in range(3))
JOB_URN = [urn(policies.JOB, f"job-{i:04d}") for i in range(3)]
RULE_URN = [urn(policies.SCHEDULED_QUERY_RULE, f"job-{i:04d}-failed-executions") for i in range(3)]


def rule(index: int) -> tuple[str, str]:
    return (policies.SCHEDULED_QUERY_RULE, f"job-{index:04d}-failed-executions")


def owner(identity: str, job: str, what: str) -> str:
    """The least-privilege report for a Data Owner identity `identity` a job `job` can reach (`what` says how)."""
    fixes = {
        "unknown id": f"identity `{identity}` holds Service Bus Data Owner and job `{job}` uses it, but its id is not "
        "known during preview, so its lifecycle in the job cannot be verified. Fix: compose the identity id from "
        "config names (as aca-jobs' JobIdentity does).",
        "unknown settings": f"identity `{identity}` holds Service Bus Data Owner, and job `{job}` uses it with "
        "identitySettings that are not known during preview, so it cannot be verified that no container can use "
        "it. Fix: compose the identity ids in identitySettings from config names (as aca-jobs does).",
        "no settings": f"identity `{identity}` holds Service Bus Data Owner, and job `{job}` assigns it without "
        "identitySettings, so every container can use it (default lifecycle `All`). Fix: list it with lifecycle "
        "`None`.",
    }
    if what.startswith("lifecycle "):
        return (
            f"identity `{identity}` holds Service Bus Data Owner, and job `{job}` lets containers use it "
            f"({what.replace('lifecycle ', 'lifecycle `')}`). Fix: set its lifecycle to `None`; give the code a "
            "separate identity with Data Receiver."
        )
    return fixes[what]


def wide_source(job: str, unknown: str) -> tuple[str, str]:
    """The least-privilege report for the workload's queue role on the account when `unknown` of a job is not known
    (the identity may then be one only the platform uses)."""
    name = f"{job}-workload-{STORAGE_QUEUE_DATA_READER.guid[:8]}"
    return (
        f"role assignment `{name}` grants Storage Queue Data Reader on `{ACCOUNT_ID}`, a "
        f"`Microsoft.Storage/storageAccounts`, to identity `{job}-workload`, and {unknown} are not known during "
        "preview, so it cannot be verified that only the job's code uses it: a scaler reads one entity, and this scope "
        "reaches every one below it. Fix: scope it to the one queue "
        "(`<account id>/queueServices/default/queues/<queue>`).",
        urn(policies.ROLE_ASSIGNMENT, name),
    )


def least_privilege(stack: Stack) -> list[tuple[str, str | None]]:
    return review(stack).get("least-privilege-role-assignments", [])


def failure_alerted(stack: Stack) -> list[tuple[str, str | None]]:
    return review(stack).get("job-failure-alerted", [])


def test_an_identity_a_job_uses_only_through_the_graph_with_unknown_identity_lists() -> None:
    """Job 1 neither lists job 0's scaler identity by id nor in identitySettings: only its graph says it uses it. With
    its identity list not known, it assigns it (by the graph); with identitySettings not known, it cannot be told."""
    stack = synthetic(3)
    stack.depend(*JOB_1, "identity", SCALER_0)

    def unknown_items(props: dict[str, Any]) -> None:
        props["identity"]["userAssignedIdentities"] = [UNKNOWN]
        props["configuration"]["identitySettings"] = []

    stack.edit(*JOB_1, unknown_items)
    assert least_privilege(stack) == [
        (owner("job-0000-scaler", "job-0001", "no settings"), JOB_URN[1]),
        (owner("job-0001-scaler", "job-0001", "no settings"), JOB_URN[1]),
    ]
    stack.edit(*JOB_1, lambda p: p["identity"].update(userAssignedIdentities=UNKNOWN))
    assert least_privilege(stack) == [
        (owner("job-0000-scaler", "job-0001", "no settings"), JOB_URN[1]),
        (owner("job-0001-scaler", "job-0001", "no settings"), JOB_URN[1]),
    ]
    stack.edit(*JOB_1, lambda p: p["configuration"].update(identitySettings=UNKNOWN))
    # (A job's identitySettings not known also leaves open whether the workload identities are only the platform's.)
    unknown = "the identitySettings of job `job-0001`"
    assert least_privilege(stack) == [
        (owner("job-0000-scaler", "job-0001", "unknown settings"), JOB_URN[1]),
        wide_source("job-0000", unknown),
        (owner("job-0001-scaler", "job-0001", "unknown settings"), JOB_URN[1]),
        wide_source("job-0001", unknown),
        wide_source("job-0002", unknown),
    ]


def test_unknown_identity_lists_of_a_job_that_cannot_use_the_identity_do_not_matter() -> None:
    # Job 2's identitySettings and identity list are not known, but nothing ties it to job 0's scaler identity: only
    # its own Data Owner identity (which it depends on) is reported for it.
    stack = synthetic(3)

    def unknown_lists(props: dict[str, Any]) -> None:
        props["identity"]["userAssignedIdentities"] = UNKNOWN
        props["configuration"]["identitySettings"] = UNKNOWN

    stack.edit(*JOB_2, unknown_lists)
    unknown = "the identitySettings of job `job-0002`"
    assert least_privilege(stack) == [
        wide_source("job-0000", unknown),
        wide_source("job-0001", unknown),
        (owner("job-0002-scaler", "job-0002", "unknown settings"), JOB_URN[2]),
        wide_source("job-0002", unknown),
    ]


def test_an_identity_a_job_lists_only_in_identity_settings_is_reported_for_that_job() -> None:
    # Not assigned, not in the graph: the id in identitySettings (another case, parsed) is enough. The first entry
    # naming it decides; an unknown entry before it does not make it undecided.
    stack = synthetic(3)
    shouting = identity_id("job-0000-scaler").upper().replace("/SUBSCRIPTIONS/", "/subscriptions/")
    stack.edit(
        *JOB_2,
        lambda p: p["configuration"]["identitySettings"].extend(
            [UNKNOWN, {"identity": shouting, "lifecycle": "Main"}, {"identity": shouting, "lifecycle": "None"}]
        ),
    )
    stack.edit(*JOB_1, lambda p: p["configuration"]["identitySettings"].append({"identity": shouting}))
    unknown = "the identitySettings of job `job-0002`"
    assert least_privilege(stack) == [
        (owner("job-0000-scaler", "job-0001", "lifecycle All"), JOB_URN[1]),
        (owner("job-0000-scaler", "job-0002", "lifecycle Main"), JOB_URN[2]),
        *(wide_source(f"job-{i:04d}", unknown) for i in range(3)),
    ]


def test_an_identity_whose_id_is_not_known_is_reported_for_every_job_using_it() -> None:
    stack = synthetic(3)
    stack.depend(*JOB_2, "identity", SCALER_0)
    stack.edit(*SCALER_0, lambda p: p.update(id=UNKNOWN))
    assert least_privilege(stack) == [
        (owner("job-0000-scaler", "job-0000", "unknown id"), JOB_URN[0]),
        (owner("job-0000-scaler", "job-0002", "unknown id"), JOB_URN[2]),
    ]


def test_a_grant_without_a_dependency_goes_to_the_first_identity_with_its_principal() -> None:
    # Principal ids compare case-insensitively; two identities answering the same one: the first in the stack.
    stack = synthetic(3, by_graph=False)
    principal = json_format.MessageToDict(stack.find(*SCALER_0).properties)["principalId"]
    stack.edit(policies.IDENTITY, "job-0001-scaler", lambda p: p.update(principalId=principal.upper()))
    stack.edit(
        policies.ROLE_ASSIGNMENT,
        f"job-0002-scaler-{SERVICE_BUS_DATA_OWNER.guid[:8]}",
        lambda p: p.update(principalId=principal.upper()),
    )
    stack.edit(
        *JOB_1,
        lambda p: p["configuration"]["identitySettings"].append(
            {"identity": identity_id("job-0000-scaler"), "lifecycle": "Main"}
        ),
    )
    untied = f"job-0001-scaler-{SERVICE_BUS_DATA_OWNER.guid[:8]}"  # its principal is no identity's any more
    assert least_privilege(stack) == [
        (owner("job-0000-scaler", "job-0001", "lifecycle Main"), JOB_URN[1]),
        (
            f"role assignment `{untied}` grants Service Bus Data Owner to a principal that is not a user-assigned "
            "identity of this stack. Fix: grant it only to a job's scaler identity.",
            urn(policies.ROLE_ASSIGNMENT, untied),
        ),
        (owner("job-0000-scaler", "job-0001", "lifecycle Main"), JOB_URN[1]),
    ]


def alerted(job: str, *reasons: str) -> str:
    detail = f" ({'; '.join(reasons)})" if reasons else ""
    return (
        f"job `{job}` has no alert on failed executions that is known to notify someone{detail}: nobody is told when a "
        "run fails. Fix: set `alerts: {emails: [...]}` (or `actionGroupId`) under aca-jobs:platform."
    )


def test_rules_whose_query_is_not_known_are_listed_for_every_job_in_rule_order() -> None:
    stack = synthetic(3)
    stack.edit(*rule(0), lambda p: p["criteria"].update(allOf=UNKNOWN))
    stack.edit(*rule(1), lambda p: p.update(enabled=False))
    # Job 2's own query is known and counts its failures: the unknown second condition does not matter for it.
    stack.edit(*rule(2), lambda p: p["criteria"]["allOf"].append({"query": UNKNOWN}))
    unknown = "rule `job-{:04d}-failed-executions` has a query that is not known during preview"
    assert failure_alerted(stack) == [
        (alerted("job-0000", unknown.format(0), unknown.format(2)), JOB_URN[0]),
        (
            alerted("job-0001", unknown.format(0), "rule `job-0001-failed-executions` is disabled", unknown.format(2)),
            JOB_URN[1],
        ),
    ]


def test_a_rule_counts_the_failures_of_every_job_its_query_names() -> None:
    # One query naming two jobs (a rule an operator shares), and names only a substring test finds: one with a quote
    # (Azure refuses it; the review still reads it as written), one after an unclosed `Job == "`.
    stack = synthetic(3)
    stack.edit(
        *rule(0),
        lambda p: (
            p.update(enabled=False)
            or p["criteria"]["allOf"][0].update(query=failed_events_query("job-0000") + ' or Job == "job-0001"')
        ),
    )
    stack.edit(*rule(1), lambda p: p.update(enabled=False))
    stack.edit(*JOB_2, lambda p: p.update(jobName='job-0002"b'))
    stack.edit(*rule(2), lambda p: p["criteria"]["allOf"][0].update(query=failed_events_query('Job == "job-0002"b')))
    assert failure_alerted(stack) == [
        (alerted("job-0000", "rule `job-0000-failed-executions` is disabled"), JOB_URN[0]),
        (
            alerted(
                "job-0001",
                "rule `job-0000-failed-executions` is disabled",
                "rule `job-0001-failed-executions` is disabled",
            ),
            JOB_URN[1],
        ),
    ]


# --- the indexes against the scans they replace -------------------------------------------------------------


def scan_reaching(reach: Any, identity: PolicyResource, parsed: Any) -> list[tuple[Any, bool]]:
    """Every job, each with whether its inputs depend on the identity: the scan `_OwnerReach` replaces."""
    return [
        (job, identity in job.job.dependencies or any(identity in d for d in job.job.property_dependencies.values()))
        for job in reach.jobs
    ]


def scan_rules(rules: Any, name: str) -> list[tuple[int, PolicyResource, Any]]:
    """Every rule: the scan `_FailureRules.for_job` replaces."""
    return [(index, *rule) for index, rule in enumerate(rules.rules)]


def scan_identity_of(identities: Any, assignment: PolicyResource, props: Any) -> PolicyResource | None:
    """The first identity of the stack with the grant's principal (case-insensitively), by scanning the stack."""
    for dependency in assignment.property_dependencies.get("principalId", []):
        if dependency.resource_type == policies.IDENTITY:
            return dependency
    principal = policies._get(props, "principalId")
    for resource in identities._resources if isinstance(principal, str) else []:
        own = policies._get(policies.plain(resource.props), "principalId")
        if resource.resource_type == policies.IDENTITY and isinstance(own, str) and own.lower() == principal.lower():
            return resource
    return None


def randomly_edited(seed: int) -> Stack:
    """A synthetic stack with a few random edits of what the indexes read: identity lists and identitySettings
    (unknown, other identities' ids, other cases, lifecycles), graph dependencies, identity ids and principals, rule
    queries (unknown, naming other jobs), job names (with a quote)."""
    rnd = random.Random(seed)
    jobs = 4
    stack = synthetic(jobs, by_graph=seed % 2 == 0)
    names = [f"job-{i:04d}" for i in range(jobs)]
    identity_names = [f"{name}-{kind}" for name in names for kind in ("scaler", "workload")]

    def some_id() -> Any:
        text = identity_id(rnd.choice(identity_names))
        return rnd.choice([text, text.replace("/userAssignedIdentities/", "/USERASSIGNEDIDENTITIES/"), "junk", UNKNOWN])

    def some_settings(props: dict[str, Any]) -> None:
        entries = [
            rnd.choice([UNKNOWN, {"identity": some_id()}, {"identity": some_id(), "lifecycle": "Main"}])
            for _ in range(rnd.randint(0, 3))
        ]
        props["configuration"]["identitySettings"] = rnd.choice(
            [UNKNOWN, entries + props["configuration"]["identitySettings"]]
        )

    edits: list[Callable[[], None]] = [
        lambda: stack.edit(
            policies.JOB,
            rnd.choice(names),
            lambda p: p["identity"].update(userAssignedIdentities=rnd.choice([UNKNOWN, [UNKNOWN], [some_id()]])),
        ),
        lambda: stack.edit(policies.JOB, rnd.choice(names), some_settings),
        lambda: stack.depend(
            policies.JOB, rnd.choice(names), "identity", (policies.IDENTITY, rnd.choice(identity_names))
        ),
        lambda: stack.edit(
            policies.IDENTITY, rnd.choice(identity_names), lambda p: p.update(id=rnd.choice([UNKNOWN, some_id()]))
        ),
        lambda: stack.edit(
            policies.IDENTITY,
            rnd.choice(identity_names),
            lambda p: p.update(principalId=f"{rnd.randrange(len(stack.resources)):08d}-SCALER"),
        ),
        lambda: stack.edit(
            *rule(rnd.randrange(jobs)),
            lambda p: p["criteria"].update(
                allOf=rnd.choice([UNKNOWN, [{"query": UNKNOWN}], [{"query": failed_events_query(rnd.choice(names))}]])
            ),
        ),
        lambda: stack.edit(*rule(rnd.randrange(jobs)), lambda p: p.update(enabled=False)),
        lambda: stack.edit(policies.JOB, rnd.choice(names), lambda p: p.update(jobName=rnd.choice(names) + '"x')),
    ]
    for _ in range(rnd.randint(1, 5)):
        rnd.choice(edits)()
    return stack


def test_the_indexes_decide_as_scans_of_every_job_rule_and_identity(monkeypatch) -> None:
    """Each index claims that the jobs, rules or identities it leaves out would decide nothing: the reviews with the
    indexes and with scans in their place are the same, reports, messages and order, over random edits."""
    reported = 0
    for seed in range(60):
        stack = randomly_edited(seed)
        indexed = review(stack)
        with monkeypatch.context() as scans:
            scans.setattr(policies._OwnerReach, "reaching", scan_reaching)
            scans.setattr(policies._FailureRules, "for_job", scan_rules)
            scans.setattr(policies._Identities, "of", scan_identity_of)
            assert review(stack) == indexed, seed
        reported += sum(len(made) for made in indexed.values())
    assert reported > 60  # the edits do make the policies report

"""`ServiceBusEventJob`: a queue whose backlog starts job executions through a KEDA `azure-servicebus`
scale rule; each execution receives a bounded unit of work and exits.

Two identities, because the scaler and the code need different rights:
- the **scaler identity** (lifecycle `None`) pulls the image and is the scale rule's identity. KEDA reads the
  queue's active-message count through the Service Bus *administration* API, which needs Manage rights, so it
  holds Azure Service Bus **Data Owner** on this queue only. No container can take tokens for it.
- the **workload identity** (lifecycle `Main`) is what the job's code runs as (`AZURE_CLIENT_ID`), with
  Azure Service Bus **Data Receiver** on this queue only: it can receive and settle, never manage.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pulumi
from pulumi_azure_native import app, servicebus

from components.alerts import queue_alerts
from components.arm import known_after, resource_id
from components.config import CONNECTION_SECRET, EventJobConfig
from components.job_identity import (
    Footprint,
    JobIdentity,
    RoleGrant,
    access_grants,
    granted_secret_names,
    job_identity,
    secret_read_grants,
)
from components.job_template import JobComponent, JobDefinition, create_job, workload_outputs
from components.naming import ACR_PULL, SERVICE_BUS_DATA_OWNER, SERVICE_BUS_DATA_RECEIVER
from components.operations import dead_letter_path, dead_letter_peek_command, job_outputs, send_test_message_command
from components.platform import PlatformRefs
from components.platform_contract import ServiceBusContract

SCALE_RULE_NAME = "queue-backlog"
# The scaler's admin-API read needs Manage; ARM requires Listen and Send alongside Manage.
SCALER_SAS_RIGHTS = [
    servicebus.AccessRights.LISTEN,
    servicebus.AccessRights.SEND,
    servicebus.AccessRights.MANAGE,
]


class ServiceBusEventJob(JobComponent):
    TYPE: ClassVar[str] = "aca-jobs:index:ServiceBusEventJob"
    TRIGGER_TYPE: ClassVar[app.TriggerType] = app.TriggerType.EVENT
    queue: servicebus.Queue
    scaler_identity: JobIdentity
    workload_identity: JobIdentity
    scaler_rule: servicebus.QueueAuthorizationRule | None

    def build(self, name: str, config: EventJobConfig, platform: PlatformRefs) -> dict[str, Any]:
        bus = platform.contract.service_bus
        if bus is None:  # guaranteed by StackConfig; a programming error otherwise
            raise ValueError("ServiceBusEventJob needs a platform with a Service Bus namespace")
        uses_identity = config.auth == "managedIdentity"

        self.queue = servicebus.Queue(
            # Named after the queue, not the job: renaming the job keeps the queue's URN (and its messages).
            f"queue-{config.queue}",
            # Stable physical name from config.
            queue_name=config.queue,
            namespace_name=bus.namespace_name,
            # The queue lives in the namespace, so in the namespace's resource group.
            resource_group_name=bus.resource_group_name,
            max_delivery_count=config.max_delivery_count,
            lock_duration=config.lock_duration,
            default_message_time_to_live=config.message_time_to_live,
            # Expired messages are kept for inspection and replay instead of silently dropped.
            dead_lettering_on_message_expiration=True,
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=platform.placement.protect,
                # Removing the job from config must not delete the queue's messages and dead letters: a retained
                # resource that leaves the program is only dropped from the state (pulumi/pulumi
                # `pkg/resource/deploy/step.go` `DeleteStep.Apply`: "Deleting a 'drop on delete' is a no-op").
                # The engine reads the option from the *old* state, so `deleteQueueWithJob: true` must be
                # deployed before the job is removed (README "Removing an event job").
                retain_on_delete=not config.delete_queue_with_job,
            ),
        )
        # The queue's id from config names: the grants' scope is then known (and reviewable) in a first preview.
        queue_id = known_after(
            resource_id(
                bus.subscription_id,
                bus.resource_group,
                "Microsoft.ServiceBus",
                "namespaces",
                bus.namespace,
                "queues",
                config.queue,
            ),
            self.queue,
        )
        queue_name = known_after(config.queue, self.queue)
        scaler_grants = [RoleGrant(ACR_PULL, platform.contract.registry.resource_id)]
        if uses_identity:
            scaler_grants.append(RoleGrant(SERVICE_BUS_DATA_OWNER, queue_id))
        # The lifecycle-None identity also reads the job's Key Vault secrets for the platform.
        scaler_grants.extend(secret_read_grants(config, platform))
        self.scaler_identity = self.pull_identity = job_identity(
            self, name, "scaler", app.IdentitySettingsLifeCycle.NONE, scaler_grants, platform
        )
        workload_identity = job_identity(
            self,
            name,
            "workload",
            app.IdentitySettingsLifeCycle.MAIN,
            [RoleGrant(SERVICE_BUS_DATA_RECEIVER, queue_id), *access_grants(config)],
            platform,
        )
        self.workload_identity = workload_identity
        self.scaler_rule = None if uses_identity else self._scaler_sas_rule(name, queue_name, bus, platform)

        metadata = {
            "queueName": config.queue,
            # Bare name: with an identity KEDA appends `.servicebus.windows.net` itself.
            "namespace": bus.namespace_name,
            # KEDA metadata values are strings.
            "messageCount": str(config.message_count),
            "activationMessageCount": str(config.activation_message_count),
        }
        scale_rule = app.JobScaleRuleArgs(
            name=SCALE_RULE_NAME,
            type="azure-servicebus",
            metadata=metadata,
            identity=self.scaler_identity.id if uses_identity else None,
            auth=None
            if uses_identity
            else [app.ScaleRuleAuthArgs(secret_ref=CONNECTION_SECRET, trigger_parameter="connection")],
        )
        self.job = create_job(
            self,
            JobDefinition(
                name=name,
                settings=config,
                trigger_type=self.TRIGGER_TYPE,
                trigger_settings={
                    "scale": app.JobScaleArgs(
                        min_executions=config.min_executions,
                        max_executions=config.max_executions,
                        polling_interval=config.polling_interval,
                        rules=[scale_rule],
                    )
                },
                pull_identity=self.scaler_identity,
                identities=[self.scaler_identity, workload_identity],
                # What DefaultAzureCredential and the Service Bus SDK need, with no secret.
                extra_env={
                    "AZURE_CLIENT_ID": workload_identity.identity.client_id,
                    "SERVICEBUS_FULLY_QUALIFIED_NAMESPACE": bus.host_name,
                    "SERVICEBUS_QUEUE_NAME": config.queue,
                },
                secrets=[] if self.scaler_rule is None else [self._connection_secret(bus, platform)],
            ),
            platform,
        )
        return {
            **job_outputs(name, self.job, self.scaler_identity, platform),
            **self.alert_on_failures(name, platform),
            **(
                {}
                if platform.alerts is None
                else queue_alerts(self, name, config.queue, bus.namespace_id, platform.alerts)
            ),
            "deadLetterPath": dead_letter_path(config.queue),
            "deadLetterPeekCommand": dead_letter_peek_command(bus.host_name, config.queue),
            "queueId": queue_id,
            "queueName": queue_name,
            "namespaceHostName": bus.host_name,
            **workload_outputs(workload_identity),
            "sendTestMessageCommand": send_test_message_command(bus.host_name, config.queue),
        }

    @classmethod
    def footprint(cls, config: EventJobConfig) -> Footprint:
        """Two identities always. The scaler: AcrPull, Data Owner on the queue unless the scale rule reads it with
        a connection string, and one grant per Key Vault secret; the workload: Data Receiver on the queue and one
        grant per `azureAccess` entry."""
        scaler = 1 + (1 if config.auth == "managedIdentity" else 0) + len(granted_secret_names(config))
        workload = 1 + len(config.azure_access)
        return Footprint(identities=2, role_assignments=scaler + workload)

    def _scaler_sas_rule(
        self, name: str, queue_name: pulumi.Output[str], bus: ServiceBusContract, platform: PlatformRefs
    ) -> servicebus.QueueAuthorizationRule:
        # Fallback only: a SAS rule on this queue alone, never on the namespace.
        return servicebus.QueueAuthorizationRule(
            f"{name}-scaler",
            authorization_rule_name="keda-scaler",
            queue_name=queue_name,
            namespace_name=bus.namespace_name,
            resource_group_name=bus.resource_group_name,
            rights=SCALER_SAS_RIGHTS,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _connection_secret(self, bus: ServiceBusContract, platform: PlatformRefs) -> app.SecretArgs:
        assert self.scaler_rule is not None
        keys = servicebus.list_queue_keys_output(
            authorization_rule_name=self.scaler_rule.name,
            queue_name=self.queue.name,
            namespace_name=bus.namespace_name,
            resource_group_name=bus.resource_group_name,
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        return app.SecretArgs(name=CONNECTION_SECRET, value=pulumi.Output.secret(keys.primary_connection_string))

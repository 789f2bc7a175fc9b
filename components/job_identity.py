"""`JobIdentity`: one user-assigned managed identity for one job and one purpose, with its role grants.

Every job kind builds its identities here, so the rules live once:
- one identity per job and purpose, so a leaked token reaches one job's resources only;
- each grant is a role at an explicit (narrow) scope, named by a deterministic GUID, with
  `principalType: ServicePrincipal` (ARM then skips the directory lookup that races a new identity);
- the lifecycle says which containers may take tokens for it: `None` for identities only the platform uses
  (image pull, scale rules), `Main` for the identity the job's own code runs as.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import app, authorization, managedidentity

from components.arm import known_after, resource_id
from components.config import JobSettings
from components.naming import (
    KEY_VAULT_SECRETS_USER,
    identity_name,
)
from components.platform import PlatformRefs
from components.role_grant import RoleGrant, grant_role


@dataclass(frozen=True)
class Footprint:
    """How many user-assigned identities and role assignments something creates: counted from config, so the
    program can warn before it registers anything (`components/scale.py`)."""

    identities: int = 0
    role_assignments: int = 0

    def __add__(self, other: Footprint) -> Footprint:
        return Footprint(self.identities + other.identities, self.role_assignments + other.role_assignments)


@dataclass(frozen=True)
class JobIdentityArgs:
    identity_name: str
    subscription_id: pulumi.Input[str]
    resource_group: str
    resource_group_name: pulumi.Input[str]
    location: str
    lifecycle: app.IdentitySettingsLifeCycle
    grants: Sequence[RoleGrant]
    tags: dict[str, str] = field(default_factory=dict)


class JobIdentity(pulumi.ComponentResource):
    identity: managedidentity.UserAssignedIdentity
    # The identity's ARM id, composed from config so that it is known in a first preview: the job lists it
    # (identity, registries, identity settings, scale rule) and reviewers and the policy pack can match it.
    id: pulumi.Output[str]
    role_assignments: list[authorization.RoleAssignment]
    lifecycle: app.IdentitySettingsLifeCycle

    def __init__(self, name: str, args: JobIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aca-jobs:index:JobIdentity", name, None, opts)
        self.lifecycle = args.lifecycle
        self.identity = managedidentity.UserAssignedIdentity(
            name,
            resource_name_=args.identity_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.id = known_after(
            resource_id(
                args.subscription_id,
                args.resource_group,
                "Microsoft.ManagedIdentity",
                "userAssignedIdentities",
                args.identity_name,
            ),
            self.identity,
        )
        self.role_assignments = [grant_role(self, name, self.identity, grant) for grant in args.grants]
        # The policy pack reads `id` and `lifecycle` here to tie the identity to the job settings that list it
        # when the identity's own outputs are not known yet.
        self.register_outputs(
            {
                "id": self.id,
                "lifecycle": self.lifecycle.value,
                "principalId": self.identity.principal_id,
                "clientId": self.identity.client_id,
            }
        )

    def identity_setting(self) -> app.IdentitySettingsArgs:
        return app.IdentitySettingsArgs(identity=self.id, lifecycle=self.lifecycle)


def job_identity(
    parent: pulumi.Resource,
    job_name: str,
    purpose: str,
    lifecycle: app.IdentitySettingsLifeCycle,
    grants: Sequence[RoleGrant],
    platform: PlatformRefs,
) -> JobIdentity:
    """The `purpose` identity of one job (`id-<job>-<purpose>`), where the stack places its jobs, with its grants."""
    placement = platform.placement
    return JobIdentity(
        f"{job_name}-{purpose}",
        JobIdentityArgs(
            identity_name=identity_name(job_name, purpose),
            subscription_id=placement.subscription_id,
            resource_group=placement.resource_group,
            resource_group_name=placement.resource_group_name,
            location=placement.location,
            lifecycle=lifecycle,
            grants=grants,
            tags=placement.tags,
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def resource_name_of(scope: str) -> str:
    """The last name in an ARM id (`.../containers/exports` -> `exports`), lower-cased."""
    return scope.rstrip("/").rsplit("/", 1)[-1].lower()


def scope_label(scope: str, *, with_digest: bool) -> str:
    """A short, stable label for a grant's scope: the resource's own name (the same in every stack, so logical
    names and `--compare` line up), plus 8 hex digits of the whole id when the name alone is ambiguous."""
    name = resource_name_of(scope)
    return f"{name}-{hashlib.sha256(scope.lower().encode()).hexdigest()[:8]}" if with_digest else name


def secret_read_grants(settings: JobSettings, platform: PlatformRefs) -> list[RoleGrant]:
    """Key Vault Secrets User on each Key Vault secret the job's `secrets` name, at that secret's own scope
    (`<vault id>/secrets/<name>`), never the vault: the identity reads exactly what the job uses."""
    if not settings.secrets:
        return []
    return [
        RoleGrant(KEY_VAULT_SECRETS_USER, platform.contract.key_vault_secret_id(secret), label=secret.lower())
        for secret in granted_secret_names(settings)
    ]


def granted_secret_names(settings: JobSettings) -> list[str]:
    """The Key Vault secrets the job's `secrets` read, one per secret: Key Vault secret names are case-insensitive,
    so two job secrets on one Key Vault secret need one grant."""
    return sorted({secret.secret_name.lower(): secret.secret_name for secret in settings.secrets.values()}.values())


def access_grants(settings: JobSettings) -> list[RoleGrant]:
    """The job's `azureAccess`: data-plane roles for its code, each at the one resource it names."""
    # A role granted on two resources of the same name needs the digest to keep the logical names apart.
    names = [(grant.role, resource_name_of(grant.scope)) for grant in settings.azure_access]
    return [
        RoleGrant(
            grant.built_in_role,
            grant.scope,
            label=scope_label(grant.scope, with_digest=names.count(name) > 1),
        )
        for grant, name in zip(settings.azure_access, names, strict=True)
    ]

"""Azure Files shares on the environment the stack creates: each registered once as a `ManagedEnvironmentsStorage`,
which jobs mount by name (`volumes.<name>: {type: AzureFile, storage: <storage name>}`). The storage account's key
is never a value in config or in the state: the environment reads it from Key Vault itself.

pulumi-azure-native 3.29.0 registers `app.ManagedEnvironmentsStorage` at API 2025-02-02-preview. There the storage's
`properties.azureFile` (Azure/azure-rest-api-specs `specification/app/resource-manager/Microsoft.App/preview/
2025-02-02-preview/ManagedEnvironmentsStorages.json` `ManagedEnvironmentStorage`, its `AzureFileProperties` in
`CommonDefinitions.json`) takes the key either as `accountKey` (an `x-ms-secret` string: a plain value in config and
an encrypted one in the state) or as `accountKeyVaultProperties` (`SecretKeyVaultProperties` {identity: "Resource ID
of a managed identity to authenticate with Azure Key Vault, or System to use a system-assigned identity",
keyVaultUrl}). The second is used, as the Azure CLI builds it for `az containerapp env storage set
--azure-file-key-vault-secret-url` (azure-cli-extensions `azext_containerapp/containerapp_env_storage_decorator.py`
`construct_payload`: `accountKeyVaultProperties {keyVaultUrl, identity}`).

The identity is a user-assigned one of the platform, `id-<environment>-storage`, assigned to the environment and
holding Key Vault Secrets User on exactly the secrets that hold the keys (`<vault id>/secrets/<name>`), never the
vault. User-assigned rather than the environment's system-assigned identity: its principal exists before the
environment does, so the grants are made (and the registrations wait for them) without creating the environment
first and granting after. No container can take its tokens: it is the environment's, not a job's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import app, authorization, managedidentity

from components.arm import known_after, resource_id
from components.config import PlatformConfig
from components.naming import KEY_VAULT_SECRETS_USER
from components.role_grant import RoleGrant, grant_role

# The identity's logical name: part of its URN and its grants' URNs, fixed once released.
STORAGE_IDENTITY = "environment-storage"


def storage_identity_name(environment_name: str) -> str:
    return f"id-{environment_name}-storage"


@dataclass(frozen=True)
class StorageIdentity:
    """The identity the environment reads storage account keys with, and its grants on the key secrets."""

    identity: managedidentity.UserAssignedIdentity
    # Composed from config, so that a first preview shows it on the environment and on each registration.
    id: pulumi.Output[str]
    grants: list[authorization.RoleAssignment]

    def assignment(self) -> app.ManagedServiceIdentityArgs:
        return app.ManagedServiceIdentityArgs(
            type=app.ManagedServiceIdentityType.USER_ASSIGNED, user_assigned_identities=[self.id]
        )


def storage_identity(
    parent: pulumi.Resource,
    config: PlatformConfig,
    location: str,
    tags: Mapping[str, str],
    subscription_id: pulumi.Input[str],
    resource_group_name: pulumi.Input[str],
) -> StorageIdentity | None:
    """The storage identity and its grants, when the environment registers storages; None otherwise."""
    storages = config.environment.storages
    if not storages:
        return None
    vault = config.key_vault
    if vault is None:  # guaranteed by PlatformConfig (storages need the vault); a programming error otherwise
        raise ValueError("environment storages need the platform's Key Vault")
    name = storage_identity_name(config.environment.environment_name)
    identity = managedidentity.UserAssignedIdentity(
        STORAGE_IDENTITY,
        resource_name_=name,
        resource_group_name=resource_group_name,
        location=location,
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    identity_id = known_after(
        resource_id(
            subscription_id, config.resource_group, "Microsoft.ManagedIdentity", "userAssignedIdentities", name
        ),
        identity,
    )
    # Key Vault secret names are case-insensitive: two storages keyed by one secret need one grant.
    secrets = sorted(
        {
            storage.account_key_secret.secret_name.lower(): storage.account_key_secret.secret_name
            for storage in storages.values()
        }.values()
    )
    grants = [
        grant_role(
            parent,
            STORAGE_IDENTITY,
            identity,
            RoleGrant(KEY_VAULT_SECRETS_USER, vault.secret_id(secret), label=secret.lower()),
        )
        for secret in secrets
    ]
    return StorageIdentity(identity=identity, id=identity_id, grants=grants)


def register_storages(
    parent: pulumi.Resource,
    config: PlatformConfig,
    environment: app.ManagedEnvironment,
    identity: StorageIdentity,
    resource_group_name: pulumi.Input[str],
) -> dict[str, app.ManagedEnvironmentsStorage]:
    """One registration per configured storage, waiting for the grants that let the environment read its key."""
    environment_name = known_after(config.environment.environment_name, environment)
    return {
        name: app.ManagedEnvironmentsStorage(
            f"storage-{name}",
            environment_name=environment_name,
            resource_group_name=resource_group_name,
            storage_name=name,
            properties=app.ManagedEnvironmentStoragePropertiesArgs(
                azure_file=app.AzureFilePropertiesArgs(
                    account_name=storage.account_name,
                    share_name=storage.share,
                    access_mode=storage.access_mode,
                    account_key_vault_properties=app.SecretKeyVaultPropertiesArgs(
                        identity=identity.id, key_vault_url=storage.account_key_secret_url
                    ),
                )
            ),
            # Role assignments are separate resources the registration does not reference: without this wait Azure
            # could try to read the key before the identity may.
            opts=pulumi.ResourceOptions(parent=parent, depends_on=identity.grants),
        )
        for name, storage in sorted(config.environment.storages.items())
    }

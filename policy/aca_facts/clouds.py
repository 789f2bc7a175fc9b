"""The Azure clouds a stack can deploy to, and the DNS suffixes of the services jobs reach in each.

The cloud is `azure-native:environment` (pulumi-azure-native provider config: "Possible values are public,
usgovernment, and china. Defaults to public."; `pulumi_azure_native/config/vars.py` `environment`). Suffixes from
Microsoft Learn: Key Vault "About keys, secrets and certificates" (DNS suffixes for object identifiers), Service
Bus and Container Registry endpoints of Azure China ("Azure China developer guide", endpoint table) and Azure
Government ("Azure Government developer guide", endpoint mapping).
"""

from __future__ import annotations

from dataclasses import dataclass

CLOUD_KEY = "azure-native:environment"


@dataclass(frozen=True)
class Cloud:
    name: str
    key_vault_suffix: str
    service_bus_suffix: str
    registry_suffix: str
    # Storage endpoints are `<account>.<service>.<suffix>` (queue, blob).
    storage_suffix: str
    # KEDA's `cloud` trigger metadata (kedacore/keda v2.20.2 `pkg/scalers/azure/cloud_config.go` `environments`,
    # matched case-insensitively); None for the public cloud, KEDA's default.
    keda_cloud: str | None


CLOUDS: dict[str, Cloud] = {
    cloud.name: cloud
    for cloud in (
        Cloud("public", ".vault.azure.net", ".servicebus.windows.net", ".azurecr.io", "core.windows.net", None),
        Cloud(
            "usgovernment",
            ".vault.usgovcloudapi.net",
            ".servicebus.usgovcloudapi.net",
            ".azurecr.us",
            "core.usgovcloudapi.net",
            "AzureUSGovernmentCloud",
        ),
        Cloud(
            "china",
            ".vault.azure.cn",
            ".servicebus.chinacloudapi.cn",
            ".azurecr.cn",
            "core.chinacloudapi.cn",
            "AzureChinaCloud",
        ),
    )
}
DEFAULT_CLOUD = "public"


def host_of(url_or_host: str) -> str:
    """A host name as DNS compares it: lower-case, without a trailing dot (host names are case-insensitive,
    RFC 4343)."""
    return url_or_host.lower().rstrip(".")


def same_host(left: object, right: object) -> bool:
    return isinstance(left, str) and isinstance(right, str) and bool(left) and host_of(left) == host_of(right)

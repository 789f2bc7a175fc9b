"""Text that is a credential, wherever a job carries text (env values, command, args, every container).

A job's definition is readable by anyone who can read the job (`Microsoft.App/jobs/read`), so a credential written
into it is disclosed. These detectors are shared by the config rules (an error before anything is registered) and the
policy pack (a mandatory violation on what the engine sends).
"""

from __future__ import annotations

import re

# Values that are credentials whatever they are called: connection-string keys (Service Bus, Storage, SQL), a
# private key, a password in a URL (`scheme://user:password@host`, the user may be empty) and any SAS signature
# (`sig=`, raw base64 included).
CREDENTIAL_PATTERNS = re.compile(
    r"(SharedAccessKey=|SharedAccessSignature=|AccountKey=|Password=|pwd=|-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|[a-z][a-z0-9+.-]*://[^/?#@\s:]*:[^/?#@\s]+@"
    r"|(?<![a-z0-9_])sig=[^&\s]+)",
    re.IGNORECASE,
)
# Env names that say their value is a secret: a literal value there is a credential in plain text.
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|APIKEY|CONNECTION_STRING|_KEY$", re.IGNORECASE)


def credential_in(text: object) -> str | None:
    """What kind of credential `text` holds, or None."""
    if not isinstance(text, str):
        return None
    match = CREDENTIAL_PATTERNS.search(text)
    if match is None:
        return None
    found = match.group(0).lower()
    if found.startswith("-----begin"):
        return "a private key"
    if "://" in found:
        return "a password in a URL"
    if found.startswith("sig="):
        return "a SAS signature (`sig=`)"
    return f"a connection-string key (`{match.group(0).rstrip('=')}`)"


MOVE_TO_KEY_VAULT = (
    "store it in the stack's Key Vault, define it under the job's `secrets` (`<name>: {keyVaultSecretUrl: "
    "https://<vault>.vault.azure.net/secrets/<name>}`), read it into an env variable with `{secretRef: <name>}`, and "
    "pass the variable to the program (e.g. `args: [--password-env, DB_PASSWORD]`) instead of the value; or let the "
    "code reach Azure through the job's identity (`azureAccess`)"
)

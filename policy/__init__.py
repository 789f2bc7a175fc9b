"""The aca-jobs policy pack (run by the Pulumi CLI from this folder) and the facts it shares with the program.

Imported as a package (`policy.aca_jobs_policies`, by the program's tools and tests), the pack's own
`import aca_facts...` must find the same modules the program imports as `policy.aca_facts...`: register each under
both names, so there is one copy of every fact and class in a process.
"""

import importlib
import pkgutil
import sys
from pathlib import Path

_FACTS = Path(__file__).resolve().parent / "aca_facts"
for _name in ["", *(f".{module.name}" for module in pkgutil.iter_modules([str(_FACTS)]))]:
    sys.modules.setdefault(f"aca_facts{_name}", importlib.import_module(f"policy.aca_facts{_name}"))

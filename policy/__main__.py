"""Wires the aca-jobs policy pack. The policies live in `aca_jobs_policies` (importable by tests)."""

from aca_jobs_policies import POLICIES
from pulumi_policy import PolicyPack

PolicyPack(name="aca-jobs-policies", policies=POLICIES)

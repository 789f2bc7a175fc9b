"""Facts the program and the policy pack share: ARM ids, built-in roles, clouds, credential detectors, cron
and the KEDA scalers of event sources.

Dependency-free (standard library only). The Pulumi CLI runs the pack from `policy/` in its own virtualenv, where
this package imports as `aca_facts`; the program imports it as `policy.aca_facts` (`policy/__init__.py` makes both
names one module). Modules here import each other relatively.
"""

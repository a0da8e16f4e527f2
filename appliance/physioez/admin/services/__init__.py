"""Governance services, plain Python (no Flask): ``staff`` (accounts), ``roles`` (what each
may do), ``tokens`` (API tokens), ``governance`` (the no-climbing rule they share) and ``audit``
(reading the audit log)."""

"""Eligibility answers: detect "does this policy apply to me?", find the policy's conditions in the index's
structure, and check each against what the user said (see :mod:`.checklist`)."""

"""Hetao park policy assistant: cited answers about the Hetao Shenzhen–Hong Kong Science and Technology
Innovation Cooperation Zone, from a retrieval index over its plan and policy lists."""

__version__ = "0.1.0"

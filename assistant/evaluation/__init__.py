"""Batch evaluation: metrics, LLM judge, reports."""

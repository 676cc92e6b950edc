"""Fraud hidden in genuine life: the four scenarios, their episodes and labels, and their checks."""

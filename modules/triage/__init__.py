"""Triage: transfer lists per hub and the engine that suggests platform, emergency, kind and unit."""

"""The PSTTM of the Città metropolitana di Milano as a knowledge graph."""

__version__ = "0.1.0"

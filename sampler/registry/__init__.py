"""The household registry: reading files (headers in English or Chinese), generating synthetic areas."""

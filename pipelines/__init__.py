"""Beam YAML specs, installed with the package as ``beam_cqia.pipelines``."""

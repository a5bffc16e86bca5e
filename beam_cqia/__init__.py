"""beam-cqia: COIG-CQIA-style Chinese instruction-tuning datasets as Apache Beam dataflows."""

__version__ = "0.1.0"

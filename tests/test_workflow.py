"""The GitHub Actions workflow: a CPU job on every push, a GPU job on a schedule and on
demand that reports the GPU first, and a deploy of the site from main after the CPU job."""
import yaml

from course import ROOT

WORKFLOW = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
TRIGGERS = WORKFLOW.get("on", WORKFLOW.get(True))  # YAML 1.1 reads a bare `on` as True
JOBS = WORKFLOW["jobs"]


def commands(job):
    return "\n".join(step.get("run", "") for step in JOBS[job]["steps"])


def test_cpu_job_runs_the_test_command_on_every_push():
    assert "push" in TRIGGERS and "if" not in JOBS["cpu"]
    assert "make test" in commands("cpu") and JOBS["cpu"]["runs-on"] == "ubuntu-latest"


def test_gpu_job_runs_on_a_gpu_runner_on_schedule_and_on_demand():
    job = JOBS["gpu"]
    assert {"self-hosted", "gpu"} <= set(job["runs-on"])
    assert "schedule" in TRIGGERS and "workflow_dispatch" in TRIGGERS
    assert "schedule" in job["if"] and "workflow_dispatch" in job["if"]
    run = commands("gpu")
    assert run.index("nvidia-smi") < run.index("make test") and "torch.cuda" in run
    assert any(step.get("env", {}).get("COURSE_DEVICE") == "cuda" for step in job["steps"])


def test_deploy_publishes_the_site_from_main_after_the_cpu_job():
    job = JOBS["deploy"]
    assert job["needs"] == "cpu" and "refs/heads/main" in job["if"]
    assert any("deploy-pages" in step.get("uses", "") for step in job["steps"])
    assert any(step.get("with", {}).get("path") == "_build/html" for step in JOBS["cpu"]["steps"])

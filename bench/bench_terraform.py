"""Wall time of a real plan, apply and destroy per in-repo module against the local cloud, beside
the preview the runner falls back to.

One moto server (the real launcher); per module and repeat a fresh local forge whose runner runs
Terraform (``TFPILOT_TERRAFORM_PLUGIN_DIR``, default ``/opt/tf-plugins``). Each module's example
config is rendered as a request, planned on its branch (``terraform init`` included: a fresh
environment), planned again (init cached), merged, applied on main and destroyed; the times are
the dispatches' wall times (the inline runner finishes the run before ``dispatch`` returns).
The baseline runs the same steps with no real Terraform (the preview computed from the file
diff). Printed per phase: min / median / max over ``BENCH_TF_REPEATS`` (default 3) repeats.
``BENCH_TF_MODULES=s3-bucket,sqs-queue`` picks modules. Skipped, saying why, without terraform
or the provider.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from core.adapters.local_cloud import MotoServer
from core.adapters.local_code_host import LocalCodeHost
from core.adapters.local_runner import LocalRunner
from core.adapters.terraform_cli import TerraformCli, provider_in
from core.ports.clock import SystemClock
from core.ports.code_host import RepoRef
from module_registry import infra_modules
from module_registry.catalogue import load_registry
from module_registry.render import RenderInput, render

PLUGIN_DIR = Path(os.environ.get("TFPILOT_TERRAFORM_PLUGIN_DIR") or "/opt/tf-plugins")
REPO = RepoRef(owner="bench", name="infra")


PHASES = ("plan", "replan", "apply", "destroy")


def _timed(host: LocalCodeHost, workflow: str, ref: str, rid: str) -> tuple[float, str]:
    started = time.perf_counter()
    run = host.dispatch_workflow(REPO, workflow, ref=ref, inputs={"request_id": rid, "environment": "dev"})
    assert run is not None
    return time.perf_counter() - started, str(run.conclusion)


def bench_module(module_id: str, cloud: MotoServer | None, root: Path, rid: str) -> tuple[dict[str, float], str]:
    """One request's lifecycle; real Terraform against ``cloud``, or the preview without one."""
    from core.adapters.terraform_run import RealTerraform

    clock = SystemClock()
    if cloud is not None:
        cli = TerraformCli(shutil.which("terraform") or "terraform", plugin_dir=PLUGIN_DIR)
        runner = LocalRunner(clock, real=RealTerraform(cli, cloud, root / "terraform"))
    else:
        runner = LocalRunner(clock, preview_reason="bench baseline")
    host = LocalCodeHost(root / "data", clock, runner_mode="inline", runner=runner)
    registry = load_registry(None)
    files = render(
        RenderInput(
            request_id=rid,
            project="bench",
            environment="dev",
            module=module_id,
            config=registry.get(module_id).example_config(),
            env_path="envs/dev",
            requester="bench",
            module_sources="repo",
        ),
        registry,
    )
    base = host.branch_head(REPO, "main")
    assert base is not None
    branch = f"request/{rid}"
    host.create_branch(REPO, branch, base)
    head = host.commit_files(REPO, branch, files, "request", parent_sha=base)
    host.open_pull_request(REPO, head=branch, base="main", title=rid, body="", labels=[])
    times: dict[str, float] = {}
    times["plan"], plan_c = _timed(host, "plan.yml", branch, rid)
    times["replan"], _ = _timed(host, "plan.yml", branch, rid)
    host.merge_pull_request(REPO, 1, sha=head, title=rid)
    times["apply"], apply_c = _timed(host, "apply.yml", "main", rid)
    main = host.branch_head(REPO, "main")
    assert main is not None
    host.commit_files(REPO, "main", dict.fromkeys(files), "cleanup", parent_sha=main)
    times["destroy"], destroy_c = _timed(host, "destroy.yml", "main", rid)
    host.close()
    return times, f"{plan_c}/{apply_c}/{destroy_c}"


def _spread(values: list[float]) -> str:
    return f"{min(values):5.1f} / {statistics.median(values):5.1f} / {max(values):5.1f}"


def main() -> None:
    if shutil.which("terraform") is None or not provider_in(PLUGIN_DIR):
        print(f"skipped: terraform or the hashicorp/aws provider under {PLUGIN_DIR} is missing")
        return
    wanted = [m for m in os.environ.get("BENCH_TF_MODULES", "").split(",") if m] or sorted(infra_modules.available())
    repeats = max(1, int(os.environ.get("BENCH_TF_REPEATS", "3")))
    print(f"seconds, min / median / max over {repeats} run(s); terraform = real runs against moto, preview = baseline")
    header = "".join(f"{phase:>22}" for phase in PHASES)
    print(f"{'module':16} {'runner':10}{header}  results")
    with tempfile.TemporaryDirectory(prefix="tfpilot-bench-tf-") as tmp:
        cloud = MotoServer(Path(tmp))
        cloud.endpoint()
        try:
            for module_id in wanted:
                for label, server in (("terraform", cloud), ("preview", None)):
                    samples: dict[str, list[float]] = {phase: [] for phase in PHASES}
                    results: set[str] = set()
                    for n in range(repeats):
                        rid = "req_" + (module_id.replace("-", "") + "bench00000")[:10] + f"{label[0]}{n}"
                        times, result = bench_module(module_id, server, Path(tmp) / module_id / f"{label}-{n}", rid)
                        results.add(result)
                        for phase in PHASES:
                            samples[phase].append(times[phase])
                    row = "".join(f"{_spread(samples[phase]):>22}" for phase in PHASES)
                    print(f"{module_id:16} {label:10}{row}  {','.join(sorted(results))}", flush=True)
        finally:
            cloud.stop()


if __name__ == "__main__":
    main()

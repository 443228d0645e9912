"""Wall time of a real plan, apply and destroy per in-repo module against the local cloud.

One moto server (the real launcher); per module a fresh local forge whose runner runs Terraform
(``TFPILOT_TERRAFORM_PLUGIN_DIR``, default ``/opt/tf-plugins``). Each module's example config
is rendered as a request, planned on its branch, merged, applied on main and destroyed; the
times are the runs' wall times as the runner saw them (init included in the first plan of each
environment, cached after). ``BENCH_TF_MODULES=s3-bucket,sqs-queue`` picks modules. Skipped,
saying why, without terraform or the provider.
"""

from __future__ import annotations

import os
import shutil
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


def _timed(host: LocalCodeHost, workflow: str, ref: str, rid: str) -> tuple[float, str]:
    started = time.perf_counter()
    run = host.dispatch_workflow(REPO, workflow, ref=ref, inputs={"request_id": rid, "environment": "dev"})
    assert run is not None
    return time.perf_counter() - started, str(run.conclusion)


def bench_module(module_id: str, cloud: MotoServer, root: Path) -> dict[str, float | str]:
    from core.adapters.terraform_run import RealTerraform

    clock = SystemClock()
    cli = TerraformCli(shutil.which("terraform") or "terraform", plugin_dir=PLUGIN_DIR)
    runner = LocalRunner(clock, real=RealTerraform(cli, cloud, root / "terraform"))
    host = LocalCodeHost(root / "data", clock, runner_mode="inline", runner=runner)
    registry = load_registry(None)
    rid = "req_" + (module_id.replace("-", "") + "bench0000000")[:12]
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
    plan_s, plan_c = _timed(host, "plan.yml", branch, rid)
    replan_s, _ = _timed(host, "plan.yml", branch, rid)
    host.merge_pull_request(REPO, 1, sha=head, title=rid)
    apply_s, apply_c = _timed(host, "apply.yml", "main", rid)
    main = host.branch_head(REPO, "main")
    assert main is not None
    host.commit_files(REPO, "main", dict.fromkeys(files), "cleanup", parent_sha=main)
    destroy_s, destroy_c = _timed(host, "destroy.yml", "main", rid)
    host.close()
    return {
        "plan_s": plan_s,
        "replan_s": replan_s,
        "apply_s": apply_s,
        "destroy_s": destroy_s,
        "result": f"{plan_c}/{apply_c}/{destroy_c}",
    }


def main() -> None:
    if shutil.which("terraform") is None or not provider_in(PLUGIN_DIR):
        print(f"skipped: terraform or the hashicorp/aws provider under {PLUGIN_DIR} is missing")
        return
    wanted = [m for m in os.environ.get("BENCH_TF_MODULES", "").split(",") if m] or sorted(infra_modules.available())
    with tempfile.TemporaryDirectory(prefix="tfpilot-bench-tf-") as tmp:
        cloud = MotoServer(Path(tmp))
        cloud.endpoint()
        try:
            print(f"{'module':16} {'plan (init)':>12} {'re-plan':>9} {'apply':>9} {'destroy':>9}  result")
            for module_id in wanted:
                r = bench_module(module_id, cloud, Path(tmp) / module_id)
                print(
                    f"{module_id:16} {r['plan_s']:>11.1f}s {r['replan_s']:>8.1f}s {r['apply_s']:>8.1f}s "
                    f"{r['destroy_s']:>8.1f}s  {r['result']}",
                    flush=True,
                )
        finally:
            cloud.stop()


if __name__ == "__main__":
    main()

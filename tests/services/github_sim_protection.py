"""Branch protection, rulesets and repository settings for ``GitHubSim``.

What GitHub enforces on a protected base branch, as far as TfPilot meets it:

- classic branch protection (``protect``): required approving reviews, dismissal of stale
  reviews on push, required status checks, apps allowed to bypass the review requirement;
  ``GET .../branches/{branch}/protection`` answers it (404 "Branch not protected" when none, 403
  "Resource not accessible by integration" when the app may not read it: ``protection_readable``);
- rulesets (``add_ruleset``): a ``pull_request`` rule with ``required_approving_review_count``, a
  ``required_status_checks`` rule, ``bypass_actors`` (an ``Integration`` actor with the app's id);
  ``GET .../rules/branches/{branch}`` lists the active rules applying to a branch and ``GET
  .../rulesets/{id}`` tells the caller ``current_user_can_bypass``;
- the merge: 405 with GitHub's messages when approving reviews are missing ("At least 1
  approving review is required by reviewers with write access.", prefixed by "Repository rule
  violations found" for a ruleset) or a required check has not passed; ``mergeable_state`` is
  ``blocked`` meanwhile. Reviews by the PR's author never count (GitHub refuses them: 422), nor
  do the app's PR comments; a dismissed or (with stale dismissal) outdated review does not count.

Callers are told apart by their bearer token (``logins``): unknown tokens are the app, whose
PRs are authored by ``app_login``. Also here for ``tfpilot doctor``: the repository, the Actions
workflow permissions, the repo's hooks and the App installation (permissions and events).
"""

from __future__ import annotations

import itertools
from typing import Any

APP_LOGIN = "tfpilot-app[bot]"
APP_SLUG = "tfpilot-app"
APP_ID = 424242


class ProtectionSim:
    """Mixed into ``GitHubSim``: protection state, the merge gate and the settings routes."""

    def _init_protection(self) -> None:
        self.app_login = APP_LOGIN
        self.app_slug = APP_SLUG
        self.app_id = APP_ID
        self.logins: dict[str, str] = {}  # bearer token -> user login
        self.app_tokens: set[str] = set()  # tokens known to be the app's (PRs are authored by it)
        self.calling: str | None = None  # who makes the request being answered (see caller)
        self.protection: dict[tuple[str, str], dict[str, Any]] = {}  # (repo, branch) -> classic JSON
        self.protection_readable = True
        self.rulesets: dict[str, dict[int, dict[str, Any]]] = {}
        self.check_states: dict[tuple[str, str], dict[str, str]] = {}  # (repo, sha) -> context: state
        self.hooks: list[dict[str, Any]] = []
        self.installation_permissions: dict[str, str] = {
            "contents": "write",
            "pull_requests": "write",
            "actions": "write",
            "metadata": "read",
        }
        self.installation_events: list[str] = ["pull_request", "pull_request_review", "workflow_run"]
        self._ruleset_ids = itertools.count(42)

    # -- test controls ------------------------------------------------------------------------

    def protect(
        self,
        full_name: str,
        branch: str = "main",
        *,
        approvals: int = 1,
        dismiss_stale: bool = True,
        checks: tuple[str, ...] = (),
        bypass_apps: tuple[str, ...] = (),
    ) -> None:
        """Classic branch protection on ``branch``, shaped like GitHub's answer."""
        url = f"https://api.github.com/repos/{full_name}/branches/{branch}/protection"
        data: dict[str, Any] = {"url": url, "enforce_admins": {"url": url, "enabled": False}}
        if approvals:
            data["required_pull_request_reviews"] = {
                "url": f"{url}/required_pull_request_reviews",
                "dismiss_stale_reviews": dismiss_stale,
                "require_code_owner_reviews": False,
                "require_last_push_approval": False,
                "required_approving_review_count": approvals,
                "bypass_pull_request_allowances": {
                    "users": [],
                    "teams": [],
                    "apps": [
                        {"slug": slug, "id": self.app_id if slug == self.app_slug else 1, "name": slug}
                        for slug in bypass_apps
                    ],
                },
            }
        if checks:
            data["required_status_checks"] = {
                "url": f"{url}/required_status_checks",
                "strict": False,
                "contexts": list(checks),
                "checks": [{"context": c, "app_id": None} for c in checks],
            }
        self.protection[(full_name, branch)] = data

    def add_ruleset(
        self,
        full_name: str,
        *,
        branch: str = "main",
        approvals: int = 1,
        dismiss_stale: bool = False,
        checks: tuple[str, ...] = (),
        app_bypass: bool = False,
        enforcement: str = "active",
    ) -> int:
        ruleset_id = next(self._ruleset_ids)
        rules: list[dict[str, Any]] = []
        if approvals:
            rules.append(
                {
                    "type": "pull_request",
                    "parameters": {
                        "required_approving_review_count": approvals,
                        "dismiss_stale_reviews_on_push": dismiss_stale,
                        "require_code_owner_review": False,
                        "require_last_push_approval": False,
                        "required_review_thread_resolution": False,
                    },
                }
            )
        if checks:
            rules.append(
                {
                    "type": "required_status_checks",
                    "parameters": {
                        "strict_required_status_checks_policy": False,
                        "required_status_checks": [{"context": c} for c in checks],
                    },
                }
            )
        bypass = [{"actor_id": self.app_id, "actor_type": "Integration", "bypass_mode": "always"}] if app_bypass else []
        self.rulesets.setdefault(full_name, {})[ruleset_id] = {
            "id": ruleset_id,
            "name": f"protect {branch}",
            "target": "branch",
            "source_type": "Repository",
            "source": full_name,
            "enforcement": enforcement,
            "bypass_actors": bypass,
            "conditions": {"ref_name": {"include": [f"refs/heads/{branch}"], "exclude": []}},
            "rules": rules,
        }
        return ruleset_id

    def set_check(self, full_name: str, sha: str, context: str, state: str = "success") -> None:
        self.check_states.setdefault((full_name, sha), {})[context] = state

    # -- who is calling -----------------------------------------------------------------------

    def caller(self, authorization: str | None) -> str | None:
        """The login behind a bearer token: a named user, the app, or None (a token the test did
        not name: the app for what it writes, an anonymous approver for a review, as before)."""
        token = (authorization or "").removeprefix("Bearer ").removeprefix("token ").strip()
        if token in self.logins:
            return self.logins[token]
        return self.app_login if token in self.app_tokens else None

    # -- the merge gate -----------------------------------------------------------------------

    def _active_rules(self, full_name: str, branch: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        found = []
        for ruleset in self.rulesets.get(full_name, {}).values():
            include = ruleset["conditions"]["ref_name"]["include"]
            if ruleset["enforcement"] == "active" and (f"refs/heads/{branch}" in include or "~ALL" in include):
                found.extend((ruleset, rule) for rule in ruleset["rules"])
        return found

    def _app_bypasses(self, ruleset: dict[str, Any]) -> bool:
        return any(a["actor_type"] == "Integration" and a["actor_id"] == self.app_id for a in ruleset["bypass_actors"])

    def _counted_reviews(self, full_name: str, pr: dict[str, Any], reviews: list[dict[str, Any]]) -> int:
        """Distinct reviewers whose latest review approves (the author's never counts)."""
        latest: dict[str, dict[str, Any]] = {}
        for review in reviews:
            if review["state"] in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
                latest[review["user"]["login"]] = review
        author = pr["user"]["login"]
        return sum(1 for login, r in latest.items() if r["state"] == "APPROVED" and login != author)

    def dismiss_stale(self, full_name: str, pr: dict[str, Any], reviews: list[dict[str, Any]]) -> None:
        """On a push to the PR's branch, GitHub dismisses approvals of older commits when asked."""
        classic = self.protection.get((full_name, pr["base"]["ref"]), {})
        stale = bool(classic.get("required_pull_request_reviews", {}).get("dismiss_stale_reviews"))
        stale = stale or any(
            rule["type"] == "pull_request" and rule["parameters"]["dismiss_stale_reviews_on_push"]
            for _, rule in self._active_rules(full_name, pr["base"]["ref"])
        )
        if stale:
            for review in reviews:
                if review["state"] == "APPROVED" and review["commit_id"] != pr["head"]["sha"]:
                    review["state"] = "DISMISSED"

    def merge_refusal(self, full_name: str, pr: dict[str, Any], reviews: list[dict[str, Any]]) -> str | None:
        """GitHub's 405 message when the base branch's protection refuses the merge, else None."""
        branch, head = pr["base"]["ref"], pr["head"]["sha"]
        approving = self._counted_reviews(full_name, pr, reviews)
        classic = self.protection.get((full_name, branch), {})
        reviews_rule = classic.get("required_pull_request_reviews") or {}
        required = int(reviews_rule.get("required_approving_review_count") or 0)
        bypass = {a["slug"] for a in reviews_rule.get("bypass_pull_request_allowances", {}).get("apps", [])}
        if approving < required and self.app_slug not in bypass:
            return (
                f"At least {required} approving review{'s are' if required > 1 else ' is'} required by reviewers "
                + ("with write access.")
            )
        states = self.check_states.get((full_name, head), {})
        for context in (classic.get("required_status_checks") or {}).get("contexts", []):
            if states.get(context) != "success":
                verb = "is failing" if states.get(context) in ("failure", "error") else "is expected"
                return f'Required status check "{context}" {verb}.'
        for ruleset, rule in self._active_rules(full_name, branch):
            if self._app_bypasses(ruleset):
                continue
            params = rule["parameters"]
            if rule["type"] == "pull_request" and approving < params["required_approving_review_count"]:
                n = params["required_approving_review_count"]
                return (
                    "Repository rule violations found\n\n"
                    f"At least {n} approving review{'s are' if n > 1 else ' is'} required by reviewers with write "
                    "access.\n\n"
                )
            if rule["type"] == "required_status_checks":
                for check in params["required_status_checks"]:
                    if states.get(check["context"]) != "success":
                        context = check["context"]
                        return f'Repository rule violations found\n\nRequired status check "{context}" is expected.\n\n'
        return None

    # -- routes (names as in GitHubSim.ROUTES) -------------------------------------------------

    def _get_protection(self, repo: Any, *, b: str, **_: Any) -> tuple[int, Any, None]:
        if not self.protection_readable:
            return 403, {"message": "Resource not accessible by integration"}, None
        data = self.protection.get((repo.full_name, b))
        if data is None:
            return 404, {"message": "Branch not protected"}, None
        return 200, data, None

    def _get_branch_rules(self, repo: Any, *, b: str, **_: Any) -> tuple[int, Any, None]:
        rules = [
            {
                **rule,
                "ruleset_source_type": ruleset["source_type"],
                "ruleset_source": ruleset["source"],
                "ruleset_id": ruleset["id"],
            }
            for ruleset, rule in self._active_rules(repo.full_name, b)
        ]
        return 200, rules, None

    def _get_ruleset(self, repo: Any, *, rid: str, headers: Any = None, **_: Any) -> tuple[int, Any, None]:
        ruleset = self.rulesets.get(repo.full_name, {}).get(int(rid))
        if ruleset is None:
            return 404, {"message": "Not Found"}, None
        bypass = "always" if self._app_bypasses(ruleset) else "never"
        return 200, {**ruleset, "current_user_can_bypass": bypass}, None

    def _get_repo(self, repo: Any, **_: Any) -> tuple[int, Any, None]:
        owner, name = repo.full_name.split("/")
        return (
            200,
            {
                "id": 1,
                "name": name,
                "full_name": repo.full_name,
                "owner": {"login": owner},
                "private": True,
                "default_branch": "main",
                "permissions": {"admin": False, "maintain": False, "push": True, "triage": True, "pull": True},
            },
            None,
        )

    def _list_hooks(self, repo: Any, **_: Any) -> tuple[int, Any, None]:
        return 200, list(self.hooks), None

    def _get_installation(self, repo: Any, **_: Any) -> tuple[int, Any, None]:
        return (
            200,
            {
                "id": 77,
                "app_id": self.app_id,
                "app_slug": self.app_slug,
                "target_type": "Organization",
                "account": {"login": repo.full_name.split("/")[0]},
                "permissions": dict(self.installation_permissions),
                "events": list(self.installation_events),
                "repository_selection": "selected",
            },
            None,
        )


PROTECTION_ROUTES: tuple[tuple[str, str, str], ...] = (
    ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)", "get_repo"),
    ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/branches/(?P<b>.+)/protection", "get_protection"),
    ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/rules/branches/(?P<b>.+)", "get_branch_rules"),
    ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/rulesets/(?P<rid>\d+)", "get_ruleset"),
    ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/hooks", "list_hooks"),
    ("GET", r"/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/installation", "get_installation"),
)

"""flexrun's deploy CLI.

python -m deploy plan --project my-project [--region R] [--bucket B] [--schedule "0 1 * * *"] [--set _KEY=VALUE]
python -m deploy bundle --out build/functions
python -m deploy cloudbuild [--check]   # write (or check) cloudbuild.yaml from deploy/spec.py
python -m deploy iam --markdown | --setup   # who calls what with which role; the one-time grants
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy")
    commands = parser.add_subparsers(dest="command", required=True)

    plan = commands.add_parser("plan", help="print the commands cloudbuild.yaml runs for a project")
    plan.add_argument("--project", required=True, help="Google Cloud project id")
    plan.add_argument("--project-number", help="the project's number (dead-letter grants); default: a placeholder")
    plan.add_argument("--region", help="_REGION: functions, triggers, scheduler and Vertex AI jobs")
    plan.add_argument("--bucket", help="_BUCKET: the package bucket")
    plan.add_argument("--schedule", help="_SCHEDULE: cron expression of the nightly run")
    plan.add_argument("--set", action="append", default=[], metavar="_KEY=VALUE", help="any other substitution")
    plan.add_argument("--gcloud-only", action="store_true", help="only the gcloud command lines, one per line")
    plan.add_argument("--env-only", action="store_true", help="only each function's environment and secrets")

    bundle = commands.add_parser("bundle", help="assemble one deployable source directory per function")
    bundle.add_argument("--out", type=Path, default=Path("build/functions"))

    generate = commands.add_parser("cloudbuild", help="write cloudbuild.yaml from the deploy spec (deploy/spec.py)")
    generate.add_argument("--check", action="store_true", help="fail if cloudbuild.yaml differs, write nothing")

    roles = commands.add_parser("iam", help="each identity's calls, permissions and roles (deploy/iam.py)")
    shown = roles.add_mutually_exclusive_group(required=True)
    shown.add_argument("--markdown", action="store_true", help="the tables of deploy/README.md")
    shown.add_argument("--setup", action="store_true", help="the one-time grants, as gcloud commands")

    args = parser.parse_args(argv)
    if args.command == "iam":
        from deploy import iam_docs

        sys.stdout.write(iam_docs.render_markdown() if args.markdown else iam_docs.render_setup())
        return 0
    if args.command == "cloudbuild":
        from deploy import cloudbuild_file as generator
        from deploy.cloudbuild import CLOUDBUILD_YAML

        if args.check:
            problem = generator.check()
            print(
                problem or f"{CLOUDBUILD_YAML.name} matches the deploy spec", file=sys.stderr if problem else sys.stdout
            )
            return 1 if problem else 0
        CLOUDBUILD_YAML.write_text(generator.render())
        print(f"wrote {CLOUDBUILD_YAML.name}")
        return 0
    if args.command == "bundle":
        from deploy.bundle import build_bundles

        for built in build_bundles(args.out):
            print(f"{built.function.name}: {built.path} ({len(built.requirements)} requirements)")
        return 0

    from deploy import cloudbuild
    from deploy.plan import PROJECT_NUMBER_PLACEHOLDER, plan_steps, render, render_env

    overrides = dict(_pair(item, parser) for item in args.set)
    for key, value in (("_REGION", args.region), ("_BUCKET", args.bucket), ("_SCHEDULE", args.schedule)):
        if value is not None:
            overrides[key] = value
    try:
        steps = plan_steps(args.project, project_number=args.project_number, overrides=overrides)
    except cloudbuild.SubstitutionError as exc:
        parser.error(str(exc))
    if not args.project_number:
        print(f"# --project-number not given: {PROJECT_NUMBER_PLACEHOLDER} stands for it below", file=sys.stderr)
    if args.env_only:
        sys.stdout.write(render_env(steps))
    elif args.gcloud_only:
        sys.stdout.write(render(steps, gcloud_only=True))
    else:
        sys.stdout.write(render_env(steps) + "\n" + render(steps))
    return 0


def _pair(item: str, parser: argparse.ArgumentParser) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep:
        parser.error(f"--set wants _KEY=VALUE, got {item!r}")
    return key, value


if __name__ == "__main__":
    sys.exit(main())

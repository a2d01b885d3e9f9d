"""Every gcloud command the build runs exists and accepts every flag it is given (per `gcloud --help`)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from deploy import cloudbuild, iam_docs


def test_every_gcloud_invocation_names_a_real_command_with_known_flags(invocations, gcloud_help):
    # Each help call takes about a second: command groups are read side by side, and within a group
    # one after the other so that every command's page is read once and then served from the cache.
    groups: dict[tuple[str, ...], list[int]] = {}
    for index, invocation in enumerate(invocations):
        groups.setdefault(invocation.words()[:2], []).append(index)
    pages: dict[int, object] = {}

    def read(indexes: list[int]) -> None:
        for index in indexes:
            pages[index] = gcloud_help.command_for(invocations[index].words())

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(read, groups.values()))
    problems = []
    for index, invocation in enumerate(invocations):
        page = pages[index]
        unknown = sorted(flag for flag in invocation.flags() if not page.accepts(flag))
        if unknown:
            problems.append(f"[{invocation.step}] gcloud {' '.join(page.path)}: unknown {', '.join(unknown)}")
    assert not problems, "\n".join(problems)
    assert len(invocations) >= 20


def test_the_flag_check_catches_a_misspelt_flag(gcloud_help):
    step = cloudbuild.Step(id="t", image="x", script="gcloud pubsub topics create t --labels=a=b --lables=a=b\n")
    (invocation,) = cloudbuild.gcloud_invocations(step)
    page = gcloud_help.command_for(invocation.words())
    assert page.path == ("pubsub", "topics", "create")
    assert page.accepts("--labels") and page.accepts("--project") and not page.accepts("--lables")


def test_negated_boolean_flags_are_recognised(gcloud_help):
    page = gcloud_help.command_for(("functions", "deploy", "some-function"))
    assert page.path == ("functions", "deploy")
    assert page.accepts("--no-allow-unauthenticated") and page.accepts("--retry") and page.accepts("--gen2")


def test_every_one_time_setup_command_names_a_real_command_with_known_flags(gcloud_help):
    setup = cloudbuild.Step(id="setup", image="", script=iam_docs.render_setup())
    invocations = cloudbuild.gcloud_invocations(setup)
    assert len(invocations) == cloudbuild.count_gcloud_words(setup) and len(invocations) > 20
    problems = []
    for invocation in invocations:
        page = gcloud_help.command_for(invocation.words())
        unknown = sorted(flag for flag in invocation.flags() if not page.accepts(flag))
        if unknown:
            problems.append(f"gcloud {' '.join(page.path)}: unknown {', '.join(unknown)}")
    assert not problems, "\n".join(problems)

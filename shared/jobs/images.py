"""Which image a job runs on, and whether it may still run: the catalog's `images`, with their dates.

Two kinds (google-facts.md, "Containers"):
- `container`: our trainer image (image/Dockerfile), run with ContainerSpec; its entry point, the launcher,
  fetches, checks and installs the run's package. Any image that is not a Vertex prebuilt one is taken
  to be built from image/Dockerfile (same launcher arguments).
- `prebuilt`: a Vertex prebuilt training image, the only kind PythonPackageSpec accepts. Past its end of
  availability it is "no longer usable", so a job on it is refused here, before any API call; one the
  catalog does not list is refused too (its dates are unknown).
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from shared.errors import PermanentError
from shared.jobs.catalog import load_catalog

WARN_DAYS = 60  # the Slack message warns when the run's image ends within this many days
_PREBUILT = re.compile(r"^(?:[a-z0-9-]+-)?docker\.pkg\.dev/vertex-ai/training/(?P<name>[^:@/]+)(?:[:@].*)?$")


class ImageKind(StrEnum):
    CONTAINER = "container"
    PREBUILT = "prebuilt"


class ImageUnavailable(PermanentError):
    """The run's image is past its end of availability, or a prebuilt image the catalog does not list."""

    reason_code = "image_unavailable"


class Image(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    kind: ImageKind
    uri: str
    end_of_patch: dt.date | None = None
    end_of_availability: dt.date | None = None

    def check_available(self, today: dt.date) -> None:
        if self.end_of_availability is not None and today > self.end_of_availability:
            raise ImageUnavailable(
                f"image {self.uri} passed its end of availability on {self.end_of_availability:%Y-%m-%d} and can no "
                "longer run jobs; unset VERTEX_AI_EXECUTOR_IMAGE to use flexrun's trainer image (image/)"
            )

    def ends_within(self, today: dt.date, days: int = WARN_DAYS) -> tuple[str, dt.date] | None:
        """("end of availability" | "end of patch", date) when that date is `days` or fewer away."""
        for what, when in (("end of availability", self.end_of_availability), ("end of patch", self.end_of_patch)):
            if when is not None and (when - today).days <= days:
                return what, when
        return None


def _image(name: str, uri: str) -> Image:
    entry = load_catalog()["images"][name]
    return Image(
        name=name,
        kind=ImageKind(entry["kind"]),
        uri=uri,
        end_of_patch=entry.get("end_of_patch"),
        end_of_availability=entry.get("end_of_availability"),
    )


def trainer_image_uri(project: str, location: str, repository: str) -> str:
    """Where cloudbuild.yaml pushes our trainer image: LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/trainer:TAG."""
    template = load_catalog()["images"][load_catalog()["default_image"]]["uri"]
    return str(template.format(location=location, project=project, repository=repository))


def trainer_image_tag() -> str:
    return trainer_image_uri("p", "l", "r").rsplit(":", 1)[1]


def default_image(project: str, location: str, repository: str) -> Image:
    return _image(load_catalog()["default_image"], trainer_image_uri(project, location, repository))


def image_for(uri: str) -> Image:
    """The catalog's entry for an explicitly configured image URI."""
    match = _PREBUILT.match(uri)
    if match is None:
        # Not a Vertex prebuilt image: ours (or one built from image/Dockerfile); ours has no end of availability.
        own = _image(load_catalog()["default_image"], uri)
        return own.model_copy(update={"name": uri.rsplit("/", 1)[-1]})
    name = match["name"]
    images = load_catalog()["images"]
    if images.get(name, {}).get("kind") != ImageKind.PREBUILT:
        listed = ", ".join(n for n, e in images.items() if e["kind"] == ImageKind.PREBUILT)
        raise ImageUnavailable(
            f"prebuilt image {uri} is not in the catalog (listed: {listed}); its end of availability is unknown"
        )
    return _image(name, uri)

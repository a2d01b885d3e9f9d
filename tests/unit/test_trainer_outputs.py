"""The trainer's outputs as job-state reads them: non-finite numbers are a failed run with a diagnosis."""

from __future__ import annotations

import json

from shared.runs.failures import FailureClass
from shared.runs.trainer_outputs import read_trainer_outputs

SCORES = {"rmse": 22.25, "mae": 11.72, "mape": 0.485, "directional_accuracy": 0.56}
PREDICTIONS = {"schema_version": 1, "package_version": "0.1.0", "model": "gru",
               "predictions": [{"symbol": "SPX", "target_date": "2017-11-13", "last_close": 2582.3,
                                "predicted_close": 2584.06, "baselines": {"naive_last_value": 2582.3}}]}  # fmt: skip


class Blob:
    def __init__(self, files: dict[str, bytes], name: str) -> None:
        self.files, self.name = files, name

    def exists(self) -> bool:
        return self.name in self.files

    def download_as_bytes(self) -> bytes:
        return self.files[self.name]


class Storage:
    """A bucket holding one finished trainer's model directory, as Cloud Storage hands it back."""

    def __init__(self, metrics: str, predictions: str) -> None:
        model = "runs/r/attempt-1/model/"
        self.files = {model + "_SUCCESS": b"{}", model + "metrics.json": metrics.encode(),
                      model + "predictions.json": predictions.encode()}  # fmt: skip

    def bucket(self, name: str) -> Storage:
        return self

    def blob(self, name: str) -> Blob:
        return Blob(self.files, name)


def outputs(model: dict, naive: dict, predictions: dict = PREDICTIONS):
    metrics = {"schema_version": 1, "evaluation": {"overall": {"model": model, "naive_last_value": naive}}}
    # json.dumps writes NaN and Infinity as the trainer's json.dump does; json.loads reads them back.
    return read_trainer_outputs(Storage(json.dumps(metrics), json.dumps(predictions)), "gs://staging/runs/r/attempt-1/")


def test_finite_outputs_are_read_into_the_record_and_the_predictions():
    read = outputs(SCORES, SCORES)
    assert read.failure is None and read.changes.outputs_complete and read.changes.prediction_count == 1
    assert read.changes.metrics_summary["model"]["rmse"] == 22.25 and read.predictions[0].symbol == "SPX"


def test_non_finite_model_scores_are_a_diverged_run_with_a_diagnosis_not_a_store_error():
    read = outputs({**SCORES, "rmse": float("nan"), "mae": float("inf")}, SCORES)
    assert read.failure is FailureClass.MODEL_DIVERGED and read.predictions == []
    assert read.changes.failure_class == "model_diverged" and read.changes.outputs_complete is False
    assert "evaluation.overall.model.rmse" in read.changes.error.message and "diverged" in read.changes.error.message
    assert read.changes.metrics is None and read.changes.plot_uri.endswith("forecast.png")  # kept to look at
    json.dumps(read.changes.model_dump(mode="json"), allow_nan=False)  # every value a store can keep as JSON


def test_non_finite_forecasts_with_finite_baselines_are_a_diverged_model():
    broken = {**PREDICTIONS, "predictions": [{**PREDICTIONS["predictions"][0], "predicted_close": float("nan")}]}
    read = outputs(SCORES, SCORES, broken)
    assert (
        read.failure is FailureClass.MODEL_DIVERGED and "predictions[0].predicted_close" in read.changes.error.message
    )


def test_non_finite_baselines_mean_the_data_is_bad():
    read = outputs({**SCORES, "rmse": float("nan")}, {**SCORES, "rmse": float("nan")})
    assert read.failure is FailureClass.DATA_PROBLEM and read.changes.failure_class == "data_problem"
    assert "input series" in read.changes.error.message and "data source" in read.changes.hint

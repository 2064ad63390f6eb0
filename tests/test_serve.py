"""The HTTP server in process (httpx over ASGI, lifespan run as uvicorn runs it): every endpoint, the
rows ``textcnn predict`` writes, micro-batched answers under concurrency, and each bad request a 4xx
that says what is wrong, with the server answering the next request."""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from textcnn import TextClassifier  # noqa: E402
from textcnn.inference.rows import prediction_rows  # noqa: E402
from textcnn.serve import ServeSettings, create_app  # noqa: E402

from conftest import TINY_SETTINGS, multilabel_corpus  # noqa: E402

TIMEOUT_S = 60  # no test here may hang: every scenario is bounded
GOOD = {"texts": ["the film was great"]}


@asynccontextmanager
async def served(
    classifier: TextClassifier, *, lifespan: bool = True, directory: Any = None, **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a fresh app over ``classifier``; with ``lifespan``, started (warmed up) and stopped.
    With ``directory`` (the bundle ``classifier`` was saved to) the model computes in its own process."""
    app = create_app(classifier, ServeSettings(**settings), directory=directory)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://textcnn.test")
    async with client:
        if not lifespan:
            yield client
            return
        async with app.router.lifespan_context(app):
            yield client


def run(scenario: Any) -> Any:
    return asyncio.run(asyncio.wait_for(scenario, TIMEOUT_S))


def cli_rows(classifier: TextClassifier, texts: list[str], top_k: int = 1) -> list[dict[str, Any]]:
    """The rows ``textcnn predict --top-k K`` writes for ``texts``."""
    chosen = classifier.predict_scored(texts) if classifier.multi_label else None
    return prediction_rows(texts, classifier.predict_top_k(texts, top_k), chosen, top_k)


def metric_samples(text: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of a Prometheus text exposition."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture(scope="module")
def multi_classifier() -> TextClassifier:
    texts, labels = multilabel_corpus()
    settings = {**TINY_SETTINGS, "epochs": 20, "patience": 20, "ema_decay": None}
    return TextClassifier(**settings).fit(texts, labels, dev=(texts, labels), verbose=False)


def test_predict_answers_the_rows_of_textcnn_predict(tiny_classifier):
    texts = ["the film was great", "this book was awful", "", "our hotel"]

    async def scenario():
        async with served(tiny_classifier) as client:
            one = await client.post("/predict", json={"texts": texts})
            ranked = await client.post("/predict", json={"texts": texts, "top_k": 2})
            return one, ranked

    one, ranked = run(scenario())

    assert one.status_code == 200 and one.json() == {"predictions": cli_rows(tiny_classifier, texts)}
    assert ranked.json() == {"predictions": cli_rows(tiny_classifier, texts, 2)}
    assert [row["label"] for row in one.json()["predictions"][:2]] == ["positive", "negative"]


def test_predict_of_a_multi_label_model_answers_label_lists(multi_classifier):
    texts = ["the film was great", "about the meal"]

    async def scenario():
        async with served(multi_classifier) as client:
            return await client.post("/predict", json={"texts": texts, "top_k": 3})

    answer = run(scenario()).json()["predictions"]

    assert answer == cli_rows(multi_classifier, texts, 3)
    assert isinstance(answer[0]["labels"], list) and isinstance(answer[0]["probabilities"], list)
    assert sorted(answer[0]["labels"]) == ["film", "positive"]


def test_kserve_v1_predict_takes_texts_or_objects_and_names_the_model(tiny_classifier):
    async def scenario():
        async with served(tiny_classifier, model_name="sentiment") as client:
            good = await client.post("/v1/models/sentiment:predict", json={"instances": ["the film was great", {"text": "awful"}]})
            other = await client.post("/v1/models/other:predict", json={"instances": ["x"]})
            status = await client.get("/v1/models/sentiment")
            return good, other, status

    good, other, status = run(scenario())

    assert good.status_code == 200
    assert good.json() == {"predictions": cli_rows(tiny_classifier, ["the film was great", "awful"])}
    assert other.status_code == 404 and "'sentiment'" in other.json()["detail"]
    assert status.json() == {"name": "sentiment", "ready": True}


def test_explain_answers_what_textcnn_explain_prints_and_it_sums_to_the_logit(tiny_classifier):
    from textcnn.inference.explain import explain_texts

    async def scenario():
        async with served(tiny_classifier) as client:
            return await client.post("/explain", json={"texts": ["the film was great", "our hotel was horrible"]})

    explained = run(scenario())

    assert explained.status_code == 200
    body = explained.json()
    assert body == json.loads(json.dumps(explain_texts(tiny_classifier.predictor, ["the film was great", "our hotel was horrible"])))
    for text in body:
        for item in text["explained"]:
            total = item["bias"] + sum(part["contribution"] for part in item["items"]) + item["rest"]
            assert total == pytest.approx(item["logit"], abs=1e-4)


def test_the_page_and_the_report_view_are_served(tiny_classifier):
    async def scenario():
        async with served(tiny_classifier) as client:
            return [await client.get(path) for path in ("/", "/static/page.js", "/static/page.css", "/report")]

    page, script, style, report = run(scenario())

    assert page.status_code == 200 and '<form id="form">' in page.text and "http" not in page.text
    assert script.status_code == 200 and "explain" in script.text and style.status_code == 200
    assert report.status_code == 200 and "negative" in report.text and "positive" in report.text


def test_ready_only_once_warmed_up_while_health_always_answers(tiny_classifier):
    async def scenario():
        async with served(tiny_classifier, lifespan=False) as client:  # the lifespan has not run
            before = [await client.get("/health"), await client.get("/ready"), await client.post("/predict", json=GOOD)]
        async with served(tiny_classifier) as client:
            after = [await client.get("/health"), await client.get("/ready"), await client.post("/predict", json=GOOD)]
        return before, after

    (health, ready, predict), after = run(scenario())

    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert ready.status_code == 503
    assert predict.status_code == 503 and "not ready" in predict.json()["detail"] and predict.headers["retry-after"] == "1"
    assert [response.status_code for response in after] == [200, 200, 200]


def test_a_warmed_up_server_keeps_its_start_up_objects_out_of_full_collections_until_it_stops(tiny_classifier):
    """A full collection walks every tracked object: the model, the app and the libraries' modules
    made it pause the server about 100 ms every second or two under load. Warm-up freezes them."""
    import gc

    async def scenario():
        async with served(tiny_classifier) as client:
            serving = gc.get_freeze_count()
            answer = await client.post("/predict", json=GOOD)
        return serving, answer

    serving, answer = run(scenario())

    assert serving > 10_000  # every object alive at warm-up, this test process's included
    assert answer.status_code == 200
    assert gc.get_freeze_count() == 0  # stopping gives them back


def test_metadata_gives_labels_config_metrics_and_versions(tiny_classifier):
    import torch

    async def scenario():
        async with served(tiny_classifier, model_name="tiny") as client:
            return (await client.get("/metadata")).json()

    metadata = run(scenario())

    assert metadata["name"] == "tiny" and metadata["labels"] == tiny_classifier.classes
    assert metadata["multi_label"] is False and metadata["thresholds"] is None
    assert metadata["config"] == tiny_classifier.config.model_dump(mode="json")
    assert metadata["metrics"] == tiny_classifier.metrics
    assert metadata["versions"]["torch"] == torch.__version__ and metadata["versions"]["textcnn"]
    assert metadata["server"]["max_texts_per_request"] == ServeSettings().max_texts_per_request


def test_metrics_count_requests_by_endpoint_and_status(tiny_classifier):
    async def scenario():
        async with served(tiny_classifier) as client:
            await client.post("/predict", json=GOOD)
            await client.post("/predict", json=GOOD)
            await client.post("/predict", content=b"not json")
            await client.get("/health")
            return await client.get("/metrics")

    response = run(scenario())
    samples = metric_samples(response.text)

    assert response.headers["content-type"].startswith("text/plain")
    count = lambda endpoint, status, method: samples[("textcnn_requests_total", (("endpoint", endpoint), ("method", method), ("status", status)))]  # noqa: E731
    assert count("/predict", "200", "POST") == 2 and count("/predict", "400", "POST") == 1 and count("/health", "200", "GET") == 1
    assert samples[("textcnn_request_seconds_count", (("endpoint", "/predict"), ("status", "200")))] == 2
    assert samples[("textcnn_batch_texts_count", ())] == 2  # the two good requests (the warm-up is the model's own)


def test_openapi_schema_documents_the_request_and_response_models(tiny_classifier):
    async def scenario():
        async with served(tiny_classifier) as client:
            return (await client.get("/openapi.json")).json(), await client.get("/docs")

    schema, docs = run(scenario())

    body = schema["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/PredictRequest"}
    assert set(schema["components"]["schemas"]["PredictRequest"]["properties"]) == {"texts", "top_k"}
    assert "instances" in schema["components"]["schemas"]["KServeRequest"]["properties"]
    assert {"/predict", "/v1/models/{name}:predict", "/explain", "/health", "/ready", "/metadata", "/metrics"} <= set(schema["paths"])
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_explain_refuses_an_unknown_target_and_too_many_texts_and_keeps_serving(tiny_classifier):
    async def scenario():
        async with served(tiny_classifier, max_explain_texts=2) as client:
            return [
                await client.post("/explain", json={"texts": ["a"], "target": "nope"}),
                await client.post("/explain", json={"texts": ["a", "b", "c"]}),
                await client.post("/explain", json={"texts": ["our hotel was horrible"], "target": "positive"}),
            ]

    unknown, too_many, good = run(scenario())

    assert unknown.status_code == 422 and "target 'nope' is not a label of this model" in unknown.json()["detail"]
    assert too_many.status_code == 413 and "the limit is 2" in too_many.json()["detail"]
    assert good.status_code == 200 and [item["label"] for item in good.json()[0]["explained"]] == ["positive"]

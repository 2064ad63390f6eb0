"""Bad requests and limits: each gets a 4xx (or 503) whose JSON says what is wrong, and the server
answers a good request right after."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from test_serve import GOOD, run, served  # noqa: E402

LIMITS = {"max_texts_per_request": 3, "max_chars_per_text": 50, "max_body_bytes": 1000}

BAD_BODIES = [
    # (what, body bytes, status, a fragment of the detail)
    ("not JSON", b"texts=hello", 400, "not JSON: Expecting value at line 1 column 1"),
    ("broken JSON", b'{"texts": ["a"', 400, "not JSON"),
    ("empty body", b"", 400, "the body is empty"),
    ("not UTF-8", b'{"texts": ["caf\xe9"]}', 400, "not UTF-8: byte 15 (0xe9)"),
    ("a lone surrogate escape", b'{"texts": ["\\udc00"]}', 400, "not JSON the server can read: lone leading surrogate"),
    ("texts not a list", b'{"texts": "the film was great"}', 422, "texts: Input should be a valid array"),
    ("an item not a string", b'{"texts": ["ok", 3]}', 422, "texts.1: Input should be a valid string"),
    ("an empty list", b'{"texts": []}', 422, "texts: List should have at least 1 item"),
    ("no texts", b'{"top_k": 2}', 422, "texts: Field required"),
    ("a JSON list, not an object", b'["a"]', 422, "Input should be an object"),
    ("a misspelt field", b'{"texts": ["a"], "topk": 2}', 422, "topk: Extra inputs are not permitted"),
    ("top_k 0", b'{"texts": ["a"], "top_k": 0}', 422, "top_k: Input should be greater than or equal to 1"),
    ("more texts than the limit", b'{"texts": ["a", "b", "c", "d"]}', 413, "4 texts in one request; the limit is 3"),
    ("a text over the character limit", b'{"texts": ["ok", "' + b"x" * 51 + b'"]}', 413, "texts[1] has 51 characters; the limit is 50"),
    ("a body over the byte limit", b'{"texts": ["' + b"x" * 1000 + b'"]}', 413, "the body has 1,015 bytes; the limit is 1,000"),
]


@pytest.mark.parametrize("what, body, status, fragment", BAD_BODIES, ids=[case[0] for case in BAD_BODIES])
def test_a_bad_body_gets_a_4xx_that_says_what_is_wrong_and_the_server_keeps_serving(tiny_classifier, what, body, status, fragment):
    async def scenario():
        async with served(tiny_classifier, **LIMITS) as client:
            bad = await client.post("/predict", content=body, headers={"content-type": "application/json"})
            return bad, await client.post("/predict", json=GOOD)

    bad, good = run(scenario())

    assert bad.status_code == status, bad.text
    assert bad.headers["content-type"] == "application/json"
    assert fragment in bad.json()["detail"]
    assert good.status_code == 200 and good.json()["predictions"][0]["label"] == "positive"


@pytest.mark.parametrize(
    "body, fragment",
    [
        (b'{"texts": ' + b"[" * 20_000 + b"]" * 20_000 + b"}", "recursion limit exceeded"),
        (b'{"texts": [' + b"7" * 5_000 + b"]}", "number out of range"),
    ],
    ids=["nested 20,000 deep", "an integer of 5,000 digits"],
)
def test_json_past_the_parsers_limits_is_a_400_not_a_500(tiny_classifier, body, fragment):
    async def scenario():
        async with served(tiny_classifier) as client:
            return await client.post("/predict", content=body), await client.post("/predict", json=GOOD)

    bad, good = run(scenario())

    assert bad.status_code == 400 and f"not JSON the server can read: {fragment}" in bad.json()["detail"]
    assert good.status_code == 200


def test_validation_errors_list_each_problem_with_its_location(tiny_classifier):
    async def scenario():
        async with served(tiny_classifier) as client:
            return await client.post("/predict", json={"texts": [1, "ok", None]})

    errors = run(scenario()).json()["errors"]

    assert [error["loc"] for error in errors] == [["texts", 0], ["texts", 2]]
    assert {error["type"] for error in errors} == {"string_type"}


def test_the_kserve_endpoint_has_the_same_limits_and_messages(tiny_classifier):
    async def scenario():
        async with served(tiny_classifier, **LIMITS) as client:
            many = await client.post("/v1/models/textcnn:predict", json={"instances": ["a"] * 4})
            empty = await client.post("/v1/models/textcnn:predict", json={"instances": []})
            broken = await client.post("/v1/models/textcnn:predict", content=b"\xff\xfe")
            good = await client.post("/v1/models/textcnn:predict", json={"instances": ["the film was great"]})
            return many, empty, broken, good

    many, empty, broken, good = run(scenario())

    assert many.status_code == 413 and "4 texts in one request" in many.json()["detail"]
    assert empty.status_code == 422 and "instances" in empty.json()["detail"]
    assert broken.status_code == 400 and "not UTF-8" in broken.json()["detail"]
    assert good.status_code == 200


def test_a_streamed_body_is_cut_off_at_the_byte_limit(tiny_classifier):
    async def chunks():  # no Content-Length: the limit is enforced while reading
        yield b'{"texts": ["'
        for _ in range(100):
            yield b"x" * 100
        yield b'"]}'

    async def scenario():
        async with served(tiny_classifier, **LIMITS) as client:
            return await client.post("/predict", content=chunks()), await client.post("/predict", json=GOOD)

    bad, good = run(scenario())

    assert bad.status_code == 413 and "more than 1,000 bytes" in bad.json()["detail"]
    assert good.status_code == 200


def test_past_the_in_flight_bound_the_server_answers_503_with_retry_after(tiny_classifier):
    release = asyncio.Event()

    async def slow_body(i):  # keeps its request in flight until released
        yield b'{"texts": ["text '
        await release.wait()
        yield f'{i}"]}}'.encode()

    async def scenario():
        async with served(tiny_classifier, max_in_flight=2, retry_after_s=3) as client:
            waiting = [asyncio.create_task(client.post("/predict", content=slow_body(i))) for i in range(2)]
            await asyncio.sleep(0.1)
            refused = await client.post("/predict", json=GOOD)
            health = await client.get("/health")  # GETs are not bounded
            release.set()
            answered = await asyncio.gather(*waiting)
            return refused, health, answered, await client.post("/predict", json=GOOD)

    refused, health, answered, after = run(scenario())

    assert refused.status_code == 503 and refused.headers["retry-after"] == "3"
    assert "2 requests in flight" in refused.json()["detail"]
    assert health.status_code == 200
    assert [response.status_code for response in answered] == [200, 200]
    assert after.status_code == 200


def test_an_unknown_path_is_a_json_404(tiny_classifier):
    async def scenario():
        async with served(tiny_classifier) as client:
            return await client.post("/predictions", json=GOOD), await client.get("/predict")

    missing, wrong_method = run(scenario())

    assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}
    assert wrong_method.status_code == 405
